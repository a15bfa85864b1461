//! The screens: pure functions from a [`view::Frame`] (what to show) and the
//! [`App`] state to a ratatui `Frame` (where it is drawn). Layout adapts to the terminal size (80x24 and up).
pub mod batch;
pub mod columns;
mod detail;
pub mod frame;
mod header;
mod help;
mod histogram;
mod log;
mod table;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Style, Stylize};
use ratatui::text::{Line, Span};

use super::model::app::App;
use super::model::view;

/// Draws one whole frame.
pub fn draw(frame: &mut Frame, snap: &view::Frame, app: &App) {
    let [header_area, body, footer_area] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    header::render(frame, header_area, &snap.header, app.paused);
    if app.detail {
        // The table keeps room for a few rows; the detail takes the rest.
        let table_height = (snap.rows.len() as u16 + 3).min((body.height / 3 + 2).max(5));
        let [table_area, detail_area] =
            Layout::vertical([Constraint::Length(table_height), Constraint::Fill(1)]).areas(body);
        table::render(frame, table_area, snap, app);
        detail::render(frame, detail_area, snap.detail.as_ref());
    } else {
        let [table_area, lower] =
            Layout::vertical([Constraint::Percentage(45), Constraint::Fill(1)]).areas(body);
        table::render(frame, table_area, snap, app);
        let [histogram_area, log_area] =
            Layout::horizontal([Constraint::Length(32), Constraint::Fill(1)]).areas(lower);
        histogram::render(frame, histogram_area, snap.detail.as_ref());
        log::render(frame, log_area, &snap.log, app.log_scroll);
    }
    footer(frame, footer_area, app);
    if app.help {
        help::render(frame, frame.area());
    }
}

fn footer(frame: &mut Frame, area: Rect, app: &App) {
    let line = if app.editing_filter {
        Line::from(vec![
            Span::styled(" filter: ", Style::new().bold()),
            Span::raw(app.filter.as_str()),
            Span::styled("_", Style::new().slow_blink()),
            Span::raw("   Enter keep  Esc clear"),
        ])
    } else {
        let mut spans = vec![];
        for (key, what) in [
            ("q", "quit"),
            ("?", "help"),
            ("/", "filter"),
            ("s", "sort"),
            ("Enter", "detail"),
            ("p", if app.paused { "resume" } else { "pause" }),
        ] {
            spans.push(Span::styled(format!(" {key}"), Style::new().bold()));
            spans.push(Span::raw(format!(" {what} ")));
        }
        Line::from(spans)
    };
    frame.render_widget(line.reversed(), area);
}

#[cfg(test)]
mod tests;
