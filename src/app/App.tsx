import { ErrorBoundary } from './ErrorBoundary';
import { StartPage } from './StartPage';
import { Suspense, lazy } from 'react';

// The viewer route carries Cornerstone/vtk.js (~4 MB): loaded only when a study is opened.
const ViewerPage = lazy(() => import('./ViewerPage').then((m) => ({ default: m.ViewerPage })));
import { useRoute } from './router';

export function App() {
  const path = useRoute((r) => r.path);
  const isViewer = path.replace(/\/+$/, '') === '/viewer';
  return (
    <ErrorBoundary>
      {isViewer ? (
        <Suspense fallback={<div className="load-status" data-testid="load-status">Loading the viewer…</div>}>
          <ViewerPage />
        </Suspense>
      ) : (
        <StartPage />
      )}
    </ErrorBoundary>
  );
}
