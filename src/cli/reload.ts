// SIGHUP, as Prosody does it: reopen the log files (logrotate), then reload the config file
// (src/core/reload.ts says what is applied live and what waits for a restart).
export interface HupTarget {
  reopenLogs(): void;
  reloadConfig(via: string): Promise<unknown>;
}

/** Handle SIGHUP for a running server; returns the function that stops handling it. */
export function handleReload(server: HupTarget): () => void {
  const onHup = (): void => {
    // First, so lines about the reload land in the new file after logrotate moved the old one.
    server.reopenLogs();
    void server.reloadConfig('SIGHUP');
  };
  process.on('SIGHUP', onHup);
  return () => process.off('SIGHUP', onHup);
}
