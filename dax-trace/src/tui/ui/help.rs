//! The `?` overlay: key bindings and what the columns mean.
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use crate::tui::run::keys::BINDINGS;

const COLUMNS: &[(&str, &str)] = &[
    ("cl/rel", "dax_device claims / releases"),
    ("busy", "pinned (DMA) now; ! = let go busy"),
    ("waits", "truncate/punch/evict; ! = stuck/blocked"),
    ("p50 p99", "wait latency percentiles"),
    ("flt/s", "DAX faults per second"),
];

pub fn render(frame: &mut Frame, area: Rect) {
    let mut lines = vec![Line::from("keys").bold()];
    lines.extend(BINDINGS.iter().map(|(keys, what)| entry(keys, what)));
    lines.push(Line::from(""));
    lines.push(Line::from("columns").bold());
    lines.extend(COLUMNS.iter().map(|(name, what)| entry(name, what)));
    let height = (lines.len() as u16 + 2).min(area.height);
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(56.min(area.width))])
        .flex(Flex::Center)
        .areas(popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" help: ? or Esc to close ")),
        popup,
    );
}

fn entry(keys: &'static str, what: &'static str) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!(" {keys:<14}"), Style::new().bold()),
        Span::raw(what),
    ])
}
