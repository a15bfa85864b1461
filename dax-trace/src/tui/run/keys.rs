//! Key bindings: crossterm key events to [`Action`]s. The help overlay lists
//! the same bindings from [`BINDINGS`].
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::tui::model::app::{Action, App};

/// (keys, what they do), as the help overlay shows them.
pub const BINDINGS: &[(&str, &str)] = &[
    ("Up/Down j/k", "select a pagemap"),
    ("Home/End g/G", "first / last pagemap"),
    ("Enter", "open / close the detail pane"),
    ("[ ]", "select a busy page (its owner's stack)"),
    ("s", "cycle the sort column"),
    ("/", "filter by device, type or holder"),
    ("p", "pause / resume the display"),
    ("PgUp/PgDn", "scroll the event log"),
    ("?", "this help"),
    ("Esc", "close help, detail, filter; else quit"),
    ("q Ctrl-C", "quit"),
];

/// The action for `key` in the current state, if any.
pub fn action_for(app: &App, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c')) {
        return Some(Action::Quit);
    }
    if app.editing_filter {
        return match key.code {
            KeyCode::Enter => Some(Action::FilterAccept),
            KeyCode::Esc => Some(Action::FilterCancel),
            KeyCode::Backspace => Some(Action::FilterBackspace),
            KeyCode::Char(c) if !ctrl => Some(Action::FilterChar(c)),
            _ => None,
        };
    }
    Some(match key.code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Esc => Action::Back,
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::Home | KeyCode::Char('g') => Action::First,
        KeyCode::End | KeyCode::Char('G') => Action::Last,
        KeyCode::Enter => Action::ToggleDetail,
        KeyCode::Char('s') => Action::CycleSort,
        KeyCode::Char('/') => Action::StartFilter,
        KeyCode::Char('p') => Action::TogglePause,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::PageUp => Action::LogOlder,
        KeyCode::PageDown => Action::LogNewer,
        KeyCode::Char('[') => Action::BusyUp,
        KeyCode::Char(']') => Action::BusyDown,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn brackets_select_a_busy_page() {
        let app = App::default();
        assert_eq!(
            action_for(&app, press(KeyCode::Char('['))),
            Some(Action::BusyUp)
        );
        assert_eq!(
            action_for(&app, press(KeyCode::Char(']'))),
            Some(Action::BusyDown)
        );
    }

    #[test]
    fn vi_keys_and_arrows_move_the_selection() {
        let app = App::default();
        assert_eq!(
            action_for(&app, press(KeyCode::Char('j'))),
            Some(Action::Down)
        );
        assert_eq!(action_for(&app, press(KeyCode::Down)), Some(Action::Down));
        assert_eq!(
            action_for(&app, press(KeyCode::Char('k'))),
            Some(Action::Up)
        );
        assert_eq!(action_for(&app, press(KeyCode::Up)), Some(Action::Up));
    }

    #[test]
    fn typing_a_filter_does_not_trigger_commands() {
        let app = App {
            editing_filter: true,
            ..Default::default()
        };
        assert_eq!(
            action_for(&app, press(KeyCode::Char('q'))),
            Some(Action::FilterChar('q'))
        );
        assert_eq!(
            action_for(&app, press(KeyCode::Esc)),
            Some(Action::FilterCancel)
        );
        assert_eq!(
            action_for(&app, press(KeyCode::Enter)),
            Some(Action::FilterAccept)
        );
    }

    #[test]
    fn ctrl_c_quits_even_while_typing() {
        let app = App {
            editing_filter: true,
            ..Default::default()
        };
        let key = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action_for(&app, key), Some(Action::Quit));
    }

    #[test]
    fn key_releases_are_ignored() {
        let mut key = press(KeyCode::Char('q'));
        key.kind = KeyEventKind::Release;
        assert_eq!(action_for(&App::default(), key), None);
    }
}
