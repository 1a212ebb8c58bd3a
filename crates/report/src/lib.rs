//! Charts of run outputs as SVG files, drawn with plotters and an embedded font (DejaVu Sans),
//! so the output is the same on every machine and needs no system fonts.

use std::path::Path;

use chrono::NaiveDate;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

/// Errors of chart drawing.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {message}")]
    Draw { path: String, message: String },
    #[error("chart {0}: no data to draw")]
    Empty(String),
}

const FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

fn ensure_font() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    // Registering the same embedded bytes can only fail on a malformed font, which a test
    // would catch; later text then falls back to nothing rather than crashing.
    ONCE.call_once(|| {
        let _ = register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// One named line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Line<'a> {
    pub name: &'a str,
    pub points: Vec<(NaiveDate, f64)>,
}

const COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];

/// Draws dated lines into an SVG file: a title, a y-axis label and a legend.
pub fn line_chart(
    path: &Path,
    title: &str,
    y_label: &str,
    lines: &[Line<'_>],
) -> Result<(), ReportError> {
    ensure_font();
    let err = |e: &dyn std::fmt::Display| ReportError::Draw {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let pts = lines
        .iter()
        .flat_map(|l| l.points.iter())
        .filter(|p| p.1.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (
        NaiveDate::MAX,
        NaiveDate::MIN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for (d, v) in pts {
        x0 = x0.min(*d);
        x1 = x1.max(*d);
        y0 = y0.min(*v);
        y1 = y1.max(*v);
    }
    if x0 > x1 {
        return Err(ReportError::Empty(title.to_string()));
    }
    if x0 == x1 {
        x1 = x0.succ_opt().unwrap_or(x0);
    }
    let pad = ((y1 - y0) * 0.05).max(1e-9);
    let (y0, y1) = (y0 - pad, y1 + pad);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
    }
    let root = SVGBackend::new(path, (900, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FAMILY, 20))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .y_desc(y_label)
        .label_style((FAMILY, 12))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(|e| err(&e))?;
    for (k, l) in lines.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        chart
            .draw_series(LineSeries::new(
                l.points.iter().filter(|p| p.1.is_finite()).copied(),
                color.stroke_width(1),
            ))
            .map_err(|e| err(&e))?
            .label(l.name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    if lines.len() > 1 {
        chart
            .configure_series_labels()
            .label_font((FAMILY, 12))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_a_chart_is_a_deterministic_svg_with_its_title_and_legend() {
        let dir = tempfile::tempdir().unwrap();
        let d = |i: i64| NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Duration::days(i);
        let a: Vec<(NaiveDate, f64)> = (0..100).map(|i| (d(i), 1.0 + i as f64 * 0.01)).collect();
        let b: Vec<(NaiveDate, f64)> = (0..100).map(|i| (d(i), 1.0 + i as f64 * 0.005)).collect();
        let lines = [
            Line {
                name: "NAV",
                points: a,
            },
            Line {
                name: "CDI",
                points: b,
            },
        ];
        let p = dir.path().join("nav.svg");
        line_chart(&p, "NAV vs CDI", "growth of 1", &lines).unwrap();
        let svg = std::fs::read_to_string(&p).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("NAV vs CDI") && svg.contains("CDI"));
        let p2 = dir.path().join("nav2.svg");
        line_chart(&p2, "NAV vs CDI", "growth of 1", &lines).unwrap();
        assert_eq!(svg, std::fs::read_to_string(&p2).unwrap());
        assert!(matches!(
            line_chart(
                &p,
                "empty",
                "",
                &[Line {
                    name: "x",
                    points: vec![]
                }]
            ),
            Err(ReportError::Empty(_))
        ));
    }
}
