//! The scrolling event log, newest at the bottom.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Paragraph};

pub fn render(frame: &mut Frame, area: Rect, log: &[String], scroll_back: usize) {
    let visible = usize::from(area.height.saturating_sub(2));
    let scroll_back = scroll_back.min(log.len().saturating_sub(visible));
    let end = log.len() - scroll_back;
    let start = end.saturating_sub(visible);
    let title = if scroll_back > 0 {
        format!(" events (-{scroll_back}) ")
    } else {
        " events ".to_string()
    };
    let lines: Vec<&str> = log[start..end].iter().map(String::as_str).collect();
    frame.render_widget(
        Paragraph::new(lines.join("\n")).block(Block::bordered().title(title)),
        area,
    );
}
