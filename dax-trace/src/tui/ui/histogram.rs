//! Wait-latency histogram of the selected pagemap: one bar per bucket.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::tui::model::view::{Detail, Histogram};

pub fn render(frame: &mut Frame, area: Rect, detail: Option<&Detail>) {
    let (title, lines) = match detail {
        Some(d) if d.histogram.total() > 0 => (
            format!(" waits {} ({}) ", d.title, d.histogram.total()),
            bars(&d.histogram, area.width.saturating_sub(2)),
        ),
        Some(d) => (
            format!(" waits {} ", d.title),
            vec![Line::from("no waits yet").italic()],
        ),
        None => (" waits ".to_string(), vec![]),
    };
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}

/// `label |#####    count` lines scaled to the largest bucket; empty
/// leading and trailing buckets are left out.
pub fn bars(h: &Histogram, width: u16) -> Vec<Line<'static>> {
    let first = h.counts.iter().position(|&c| c > 0).unwrap_or(0);
    let last = h.counts.iter().rposition(|&c| c > 0).unwrap_or(0);
    let max = h.counts.iter().copied().max().unwrap_or(0).max(1);
    let label_width = 7;
    let count_width = 6;
    let bar_width = usize::from(width).saturating_sub(label_width + count_width + 2);
    (first..=last)
        .filter_map(|i| h.counts.get(i).map(|&c| (i, c)))
        .map(|(i, count)| {
            // Round up so any nonzero bucket shows at least one cell.
            let filled = (count as usize * bar_width).div_ceil(max as usize);
            Line::from(vec![
                Span::raw(format!("{:>label_width$} ", h.label(i))),
                Span::styled("#".repeat(filled), Style::new().cyan()),
                Span::raw(" ".repeat(bar_width - filled)),
                Span::raw(format!(" {count:>count_width$}")),
            ])
        })
        .collect()
}
