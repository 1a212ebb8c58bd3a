//! Dated line charts drawn with plotters and an embedded font (DejaVu Sans), as SVG text or
//! PNG bytes, so the output is the same on every machine and needs no system fonts.

use chrono::NaiveDate;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::ReportError;

const FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
pub(crate) const FAMILY: &str = "sans-serif";

/// Chart size in pixels (PNG) and user units (SVG).
pub const SIZE: (u32, u32) = (900, 420);

pub(crate) fn ensure_font() {
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
pub struct Line {
    pub name: String,
    pub points: Vec<(NaiveDate, f64)>,
}

/// A chart: dated lines under a title, with a y-axis label.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    pub y_label: String,
    pub lines: Vec<Line>,
    /// Label the y axis in percent (values are fractions).
    pub percent: bool,
    /// Shade the area between the first line and zero (drawdowns, exposures).
    pub area: bool,
}

impl Chart {
    pub fn new(title: &str, y_label: &str, lines: Vec<Line>) -> Self {
        Chart {
            title: title.into(),
            y_label: y_label.into(),
            lines,
            percent: false,
            area: false,
        }
    }

    pub fn percent(mut self) -> Self {
        self.percent = true;
        self
    }

    pub fn area(mut self) -> Self {
        self.area = true;
        self
    }
}

const COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];

/// The data's extent: (first date, last date, low, high), padded so flat lines still show.
fn extent(c: &Chart) -> Result<(NaiveDate, NaiveDate, f64, f64), ReportError> {
    let (mut x0, mut x1, mut y0, mut y1) = (
        NaiveDate::MAX,
        NaiveDate::MIN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for (d, v) in c
        .lines
        .iter()
        .flat_map(|l| l.points.iter())
        .filter(|p| p.1.is_finite())
    {
        x0 = x0.min(*d);
        x1 = x1.max(*d);
        y0 = y0.min(*v);
        y1 = y1.max(*v);
    }
    if x0 > x1 {
        return Err(ReportError::Empty(c.title.to_string()));
    }
    if x0 == x1 {
        x1 = x0.succ_opt().unwrap_or(x0);
    }
    if c.area {
        y0 = y0.min(0.0);
        y1 = y1.max(0.0);
    }
    let pad = ((y1 - y0) * 0.05).max(1e-9);
    Ok((x0, x1, y0 - pad, y1 + pad))
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Chart) -> Result<(), String> {
    let (x0, x1, y0, y1) = extent(c).map_err(|e| e.to_string())?;
    let e = |e: &dyn std::fmt::Display| e.to_string();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let mut chart = ChartBuilder::on(root)
        .caption(c.title.as_str(), (FAMILY, 20))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|x| e(&x))?;
    // Rounded first, so a tiny negative prints as 0%, not -0%.
    let pct = |v: &f64| format!("{:.0}%", (v * 100.0).round() + 0.0);
    let plain = |v: &f64| {
        if v.abs() >= 1000.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.2}")
        }
    };
    chart
        .configure_mesh()
        .y_desc(c.y_label.as_str())
        .label_style((FAMILY, 12))
        .y_label_formatter(if c.percent { &pct } else { &plain })
        .x_label_formatter(&|d: &NaiveDate| d.format("%Y-%m").to_string())
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(|x| e(&x))?;
    for (k, l) in c.lines.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let pts = l.points.iter().filter(|p| p.1.is_finite()).copied();
        if c.area && k == 0 {
            chart
                .draw_series(AreaSeries::new(pts.clone(), 0.0, color.mix(0.25)))
                .map_err(|x| e(&x))?;
        }
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(1)))
            .map_err(|x| e(&x))?
            .label(l.name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    if c.lines.len() > 1 {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FAMILY, 12))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|x| e(&x))?;
    }
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

/// The chart as SVG text.
pub fn svg(c: &Chart) -> Result<String, ReportError> {
    ensure_font();
    extent(c)?;
    // About 12 bytes a point and 16 KiB of axes and text: written once, not grown.
    let points: usize = c.lines.iter().map(|l| l.points.len()).sum();
    let mut out = String::with_capacity((16 << 10) + 12 * points * (1 + usize::from(c.area)));
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        draw(&root, c).map_err(|message| ReportError::Draw {
            chart: c.title.to_string(),
            message,
        })?;
    }
    Ok(out)
}

/// The chart as PNG bytes (8-bit RGB).
pub fn png(c: &Chart) -> Result<Vec<u8>, ReportError> {
    ensure_font();
    extent(c)?;
    let (w, h) = SIZE;
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        draw(&root, c).map_err(|message| ReportError::Draw {
            chart: c.title.to_string(),
            message,
        })?;
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let draw_err = |e: png::EncodingError| ReportError::Draw {
        chart: c.title.to_string(),
        message: e.to_string(),
    };
    enc.write_header()
        .and_then(|mut w| w.write_image_data(&rgb))
        .map_err(draw_err)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_lines() -> Chart {
        let d = |i: i64| NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Duration::days(i);
        let a: Vec<(NaiveDate, f64)> = (0..100).map(|i| (d(i), 1.0 + i as f64 * 0.01)).collect();
        let b: Vec<(NaiveDate, f64)> = (0..100).map(|i| (d(i), 1.0 + i as f64 * 0.005)).collect();
        Chart::new(
            "NAV vs CDI",
            "growth of 1",
            vec![
                Line {
                    name: "NAV".into(),
                    points: a,
                },
                Line {
                    name: "CDI".into(),
                    points: b,
                },
            ],
        )
    }

    #[test]
    fn test_a_chart_is_a_deterministic_svg_with_its_title_and_legend() {
        let c = two_lines();
        let svg1 = svg(&c).unwrap();
        assert!(svg1.starts_with("<svg") && svg1.contains("NAV vs CDI") && svg1.contains("CDI"));
        assert_eq!(svg1, svg(&c).unwrap());
        let empty = Chart::new(
            "empty",
            "",
            vec![Line {
                name: "x".into(),
                points: vec![(NaiveDate::MIN, f64::NAN)],
            }],
        );
        assert!(matches!(svg(&empty), Err(ReportError::Empty(_))));
        assert!(matches!(png(&empty), Err(ReportError::Empty(_))));
    }

    #[test]
    fn test_a_png_decodes_to_its_size_with_ink_in_the_plot() {
        let bytes = png(&two_lines()).unwrap();
        assert_eq!(bytes, png(&two_lines()).unwrap(), "byte-identical reruns");
        let dec = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size()];
        let info = r.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), SIZE);
        let px = &buf[..info.buffer_size()];
        let near = |c: [u8; 3]| {
            px.chunks(3)
                .filter(|p| (0..3).all(|k| p[k].abs_diff(c[k]) < 40))
                .count()
        };
        let (blue, orange) = (near([31, 119, 180]), near([255, 127, 14]));
        // Each line crosses most of the plot's width; the title and labels are dark text.
        assert!(blue > 150 && orange > 150, "blue {blue}, orange {orange}");
        let dark = px.chunks(3).filter(|p| p.iter().all(|c| *c < 80)).count();
        assert!(dark > 300, "text pixels: {dark}");
    }
}
