import { ErrorBoundary } from './ErrorBoundary';
import { StartPage } from './StartPage';
import { ViewerPage } from './ViewerPage';
import { useRoute } from './router';

export function App() {
  const path = useRoute((r) => r.path);
  const isViewer = path.replace(/\/+$/, '') === '/viewer';
  return <ErrorBoundary>{isViewer ? <ViewerPage /> : <StartPage />}</ErrorBoundary>;
}
