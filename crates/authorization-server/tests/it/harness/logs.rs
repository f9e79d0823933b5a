//! Everything the server side logs, at TRACE, for every test in this binary,
//! kept in memory: `logging.rs` searches it for secrets.

/// The captured log lines of every server this binary has started.
static LOGS: std::sync::LazyLock<std::sync::Mutex<Vec<u8>>> =
    std::sync::LazyLock::new(Default::default);

struct CaptureWriter;

impl std::io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber (once per binary; later calls are no-ops).
pub(super) fn init_log_capture() {
    let filter = "tessera_authorization_server=trace,tessera::audit=trace,tessera_store=trace,tessera_core=trace,tower_http=trace,axum=trace,sqlx=trace";
    let _ = tracing_subscriber::fmt()
        .with_writer(|| CaptureWriter)
        .with_env_filter(filter)
        .with_ansi(false)
        .try_init();
}

pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}
