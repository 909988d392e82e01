import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App';
import { installTestApi } from './app/testApi';
// Inference worker client; installs window.__psoasInference in dev and with ?e2e (see src/inference/client.ts).
import './inference/client';
import './app/app.css';

installTestApi();

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
