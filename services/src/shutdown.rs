//! SIGTERM / SIGINT → cancel the root token; `run` then drains and exits well under a
//! second, so `docker stop` and `docker restart` never wait for Docker's kill timeout.

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Installs the SIGTERM and SIGINT handlers now (so no early signal is missed) and
/// cancels `token` on the first one. Must be called inside the runtime.
pub fn cancel_on_signal(token: CancellationToken) -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => token.cancel(),
            _ = int.recv() => token.cancel(),
            _ = token.cancelled() => {}
        }
    });
    Ok(())
}
