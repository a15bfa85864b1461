//! The two header lines: source, kernel, probes; events, rate, drops, clock.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::human::compact::rate;
use crate::tui::model::view::Header;

pub fn render(frame: &mut Frame, area: Rect, header: &Header, paused: bool) {
    let sep = || Span::raw(" | ");
    let kernel = if header.kernel.is_empty() {
        "?"
    } else {
        header.kernel.as_str()
    };
    let first = Line::from(vec![
        Span::styled("daxtrace top", Style::new().bold()),
        sep(),
        Span::raw(format!("kernel {kernel}")),
        sep(),
        Span::raw(format!(
            "probes {}/{}",
            header.probes_attached, header.probes_total
        )),
        sep(),
        // Last: a long trace path is what gets cut on a narrow terminal.
        Span::raw(header.source.clone()),
    ]);
    let drops = format!("drops {}", header.drops);
    let mut second = vec![
        Span::raw(format!(
            "events {} ({}/s)",
            header.events_total,
            rate(header.events_per_sec)
        )),
        sep(),
        if header.drops > 0 {
            Span::styled(drops, Style::new().red().bold())
        } else {
            Span::raw(drops)
        },
        sep(),
        Span::raw(format!("t {}", header.time.at(header.now_ns))),
    ];
    if paused {
        second.push(sep());
        second.push(Span::styled("PAUSED", Style::new().yellow().bold()));
    }
    if let Some(ended) = &header.ended {
        second.push(sep());
        second.push(Span::styled(ended.clone(), Style::new().cyan()));
    }
    frame.render_widget(Paragraph::new(vec![first, Line::from(second)]), area);
}
