//! The detail pane of the selected pagemap: dm topology and holder history on
//! the left, busy pages (longest pinned first) on the right.
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table};

use crate::tui::view::{Detail, duration};

pub fn render(frame: &mut Frame, area: Rect, detail: Option<&Detail>) {
    let Some(detail) = detail else {
        frame.render_widget(
            Paragraph::new(Line::from("nothing selected").italic())
                .block(Block::bordered().title(" detail ")),
            area,
        );
        return;
    };
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Fill(1)]).areas(area);
    let mut lines = vec![Line::from("topology").bold()];
    if detail.topology.is_empty() {
        lines.push(Line::from(" (no device-mapper above or below)"));
    }
    lines.extend(detail.topology.iter().map(|t| Line::from(format!(" {t}"))));
    lines.push(Line::from("holders").bold());
    if detail.holders.is_empty() {
        lines.push(Line::from(" (never claimed)"));
    }
    // Newest last, and the newest are the ones that must stay visible.
    let room = usize::from(left.height.saturating_sub(2)).saturating_sub(lines.len());
    let skip = detail.holders.len().saturating_sub(room);
    lines.extend(detail.holders.iter().skip(skip).map(|h| {
        Line::from(format!(
            " {:>10.3}s {:<7} {} {}[{}]",
            h.at_ns as f64 / 1e9,
            h.action,
            h.holder,
            h.comm,
            h.pid
        ))
    }));
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(format!(" {} ", detail.title))),
        left,
    );
    let header = Row::new(["pfn", "ino", "offset", "age", "ref"]).style(Style::new().bold());
    let rows = detail.busy.iter().map(|p| {
        Row::new([
            format!("{:#x}", p.pfn),
            p.ino.to_string(),
            p.offset
                .map_or_else(|| "-".to_string(), |o| format!("{o:#x}")),
            duration(p.age_ns),
            p.refcount.to_string(),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(10),
            Constraint::Length(8),
            Constraint::Length(10),
            Constraint::Length(6),
            Constraint::Length(3),
        ],
    )
    .header(header)
    .block(Block::bordered().title(format!(" busy pages {} ", detail.busy.len())));
    frame.render_widget(table, right);
}
