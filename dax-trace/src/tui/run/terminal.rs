//! The terminal while the dashboard runs: raw mode and the alternate screen,
//! always undone, whether the dashboard returns, fails or panics.
use std::io;

use ratatui::DefaultTerminal;

/// Owns the terminal in dashboard mode; dropping it restores the terminal.
pub struct TerminalGuard {
    terminal: DefaultTerminal,
}

impl TerminalGuard {
    /// Enters raw mode and the alternate screen. Also installs a panic hook
    /// (chained to the previous one) that restores the terminal before the
    /// panic message is printed.
    pub fn enter() -> io::Result<Self> {
        let terminal = ratatui::try_init()?;
        Ok(Self { terminal })
    }

    pub fn terminal(&mut self) -> &mut DefaultTerminal {
        &mut self.terminal
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        // Nothing useful can be done if restoring fails while unwinding.
        let _ = ratatui::try_restore();
    }
}
