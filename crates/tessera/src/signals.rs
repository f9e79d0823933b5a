//! What stops a server: Ctrl-C or SIGTERM.

/// Ctrl-C or SIGTERM. The SIGTERM handler is installed when this is called,
/// not when the future is first polled: a supervisor may stop the server as
/// soon as it logs that it listens, and that must still be a graceful stop.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async move {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {},
            () = term => {},
        }
        tracing::info!("shutting down; letting in-flight requests finish");
    }
}
