import { Component, type ErrorInfo, type ReactNode } from 'react';
import { describeError, isPsoasError } from '../core/errors';

/** Last line of defence: a render error shows a message and a way back instead of a blank page. */
export class ErrorBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  override state: { error: unknown } = { error: null };

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo) {
    console.error('psoasview: render error', error, info.componentStack);
  }

  override render() {
    const { error } = this.state;
    if (error == null) return this.props.children;
    const code = isPsoasError(error) ? error.code : 'INTERNAL';
    return (
      <div className="page-error">
        <ErrorNotice code={code} message={`Unexpected error in the viewer: ${describeError(error)}`} />
        <a href="/">Back to the start page</a>
      </div>
    );
  }
}

/**
 * The one way errors are shown: role="alert", data-testid="error" (or `testId`, e.g. a panel's own errors), with
 * the stable error code.
 */
export function ErrorNotice({ code, message, onDismiss, testId = 'error' }: { code: string; message: string; onDismiss?: () => void; testId?: string }) {
  return (
    <div role="alert" data-testid={testId} className="error-notice">
      <span className="error-code">{code}</span>
      <span className="error-message">{message}</span>
      {onDismiss ? (
        <button type="button" className="link" onClick={onDismiss} aria-label="Dismiss error">
          ×
        </button>
      ) : null}
    </div>
  );
}
