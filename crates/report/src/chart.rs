//! Dated line charts drawn with plotters and an embedded font (DejaVu Sans), as SVG text or
//! PNG bytes, so the output is the same on every machine and needs no system fonts.

use chrono::NaiveDate;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::ReportError;
use points::PointsApart;

mod points;

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
fn extent(c: &Chart) -> Result<Bounds, ReportError> {
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

/// A chart's data extent: first and last date, low and high value ([`extent`]).
type Bounds = (NaiveDate, NaiveDate, f64, f64);

/// The chart's axes, in the pixels of `root`.
type Axes<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedDate<NaiveDate>, RangedCoordf64>>;

fn axes<'a, DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    c: &Chart,
    (x0, x1, y0, y1): Bounds,
) -> Result<Axes<'a, DB>, String> {
    ChartBuilder::on(root)
        .caption(c.title.as_str(), (FAMILY, 20))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|x| x.to_string())
}

/// The chart within `bounds` (its [`extent`], computed once by the caller).
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    c: &Chart,
    bounds: Bounds,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|x| x.to_string())?;
    let mut chart = axes(root, c, bounds)?;
    mesh(&mut chart, c)?;
    let px = Pixels::of(&chart, bounds);
    for (k, l) in c.lines.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        lines(root, &px, l, color, c.area && k == 0)?;
        // plotters' own mapping, point by point, in the test builds.
        debug_assert!(
            l.points
                .iter()
                .filter(|p| p.1.is_finite())
                .all(|(d, v)| px.clamp(chart.backend_coord(&(*d, *v))) == px.at(*d, *v)),
            "{}: a point maps to other pixels than plotters'",
            c.title
        );
        legend_entry(&mut chart, l, color)?;
    }
    legend(&mut chart, c)?;
    root.present().map_err(|x| x.to_string())
}

fn mesh<DB: DrawingBackend>(chart: &mut Axes<'_, DB>, c: &Chart) -> Result<(), String> {
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
        .map_err(|x| x.to_string())
}

/// One line (and its shaded area down to zero), drawn in pixels: the elements plotters'
/// `AreaSeries` and `LineSeries` would draw — the same points in the same order — without
/// mapping every point through its generic ranges.
fn lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    px: &Pixels,
    l: &Line,
    color: RGBColor,
    area: bool,
) -> Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    let finite = || l.points.iter().filter(|p| p.1.is_finite());
    let pts: Vec<(i32, i32)> = finite().map(|(d, v)| px.at(*d, *v)).collect();
    let (Some(first), Some(last)) = (finite().next(), finite().next_back()) else {
        return Ok(());
    };
    if area {
        let mut poly = Vec::with_capacity(pts.len() + 2);
        poly.extend_from_slice(&pts);
        poly.push(px.at(last.0, 0.0));
        poly.push(px.at(first.0, 0.0));
        root.draw(&Polygon::new(poly, color.mix(0.25))).map_err(e)?;
    }
    root.draw(&PathElement::new(pts, color.stroke_width(1)))
        .map_err(e)
}

/// The line's legend entry, carried by an empty series (the line is drawn in pixels).
fn legend_entry<'a, DB: DrawingBackend + 'a>(
    chart: &mut Axes<'a, DB>,
    l: &Line,
    color: RGBColor,
) -> Result<(), String> {
    chart
        .draw_series(std::iter::empty::<PathElement<(NaiveDate, f64)>>())
        .map_err(|x| x.to_string())?
        .label(l.name.as_str())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    Ok(())
}

fn legend<'a, DB: DrawingBackend + 'a>(chart: &mut Axes<'a, DB>, c: &Chart) -> Result<(), String> {
    if c.lines.len() < 2 {
        return Ok(());
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FAMILY, 12))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|x| x.to_string())
}

/// Plotters' mapping of a chart's (date, value) points to pixels — the same arithmetic as its
/// `RangedDate` and `RangedCoordf64` ranges and the plotting area's clamp — computed without
/// its per-point generic machinery (two date subtractions and a `Duration` per point). The
/// debug builds check every point against plotters' own `backend_coord`.
struct Pixels {
    x0: NaiveDate,
    total_ns: Option<i64>,
    total_days: i64,
    bx: (i32, i32),
    y0: f64,
    y1: f64,
    by: (i32, i32),
    rect: (std::ops::Range<i32>, std::ops::Range<i32>),
}

const NS_PER_DAY: i64 = 86_400 * 1_000_000_000;

impl Pixels {
    fn of<DB: DrawingBackend>(chart: &Axes<'_, DB>, (x0, x1, y0, y1): Bounds) -> Self {
        let spec = chart.as_coord_spec();
        // The axes' pixel limits, sorted; dates run left to right, values bottom to top (the
        // lowest value maps to its limit exactly).
        let (xs, ys) = (spec.get_x_axis_pixel_range(), spec.get_y_axis_pixel_range());
        let bottom = chart.backend_coord(&(x0, y0)).1;
        let top = if bottom == ys.start { ys.end } else { ys.start };
        let total_days = (x1 - x0).num_days();
        Pixels {
            x0,
            total_ns: total_days.checked_mul(NS_PER_DAY),
            total_days,
            bx: (xs.start, xs.end),
            y0,
            y1,
            by: (bottom, top),
            rect: chart.plotting_area().get_pixel_range(),
        }
    }

    fn at(&self, d: NaiveDate, v: f64) -> (i32, i32) {
        self.clamp((self.x(d), self.y(v)))
    }

    fn clamp(&self, (x, y): (i32, i32)) -> (i32, i32) {
        let (rx, ry) = &self.rect;
        (x.min(rx.end).max(rx.start), y.min(ry.end).max(ry.start))
    }

    /// `TimeValue::map_coord`: nanoseconds while they fit in an `i64`, else days.
    fn x(&self, d: NaiveDate) -> i32 {
        let days = (d - self.x0).num_days();
        let span = f64::from(self.bx.1 - self.bx.0);
        match (self.total_ns, days.checked_mul(NS_PER_DAY)) {
            (Some(total), Some(value)) => (span * value as f64 / total as f64) as i32 + self.bx.0,
            _ => (span * days as f64 / self.total_days as f64) as i32 + self.bx.0,
        }
    }

    /// `RangedCoordf64::map`.
    fn y(&self, v: f64) -> i32 {
        let (l0, l1) = self.by;
        if self.y1 == self.y0 {
            return (l1 - l0) / 2;
        }
        let logic = (v - self.y0) / (self.y1 - self.y0);
        let actual = l1 - l0;
        if actual == 0 {
            return l1;
        }
        if logic.is_infinite() {
            return if logic.is_sign_positive() { l1 } else { l0 };
        }
        if actual > 0 {
            l0 + (f64::from(actual) * logic + 1e-3).floor() as i32
        } else {
            l0 + (f64::from(actual) * logic - 1e-3).ceil() as i32
        }
    }
}

/// The chart as SVG text.
pub fn svg(c: &Chart) -> Result<String, ReportError> {
    ensure_font();
    let bounds = extent(c)?;
    let draw_err = |message: String| ReportError::Draw {
        chart: c.title.to_string(),
        message,
    };
    let mut frame = String::with_capacity(16 << 10);
    let mut points = Vec::new();
    {
        let svg = SVGBackend::with_string(&mut frame, SIZE);
        let root = PointsApart::new(svg, &mut points).into_drawing_area();
        draw(&root, c, bounds).map_err(draw_err)?;
    }
    points::splice(&frame, &points).map_err(draw_err)
}

/// The chart as PNG bytes (8-bit RGB).
pub fn png(c: &Chart) -> Result<Vec<u8>, ReportError> {
    ensure_font();
    let bounds = extent(c)?;
    let (w, h) = SIZE;
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        draw(&root, c, bounds).map_err(|message| ReportError::Draw {
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
    use proptest::prelude::*;

    /// The chart as plotters draws it with its own series (`AreaSeries`, `LineSeries`): what
    /// [`svg`] replaced, byte for byte.
    fn plotters_svg(c: &Chart) -> String {
        ensure_font();
        let bounds = extent(c).unwrap();
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
            root.fill(&WHITE).unwrap();
            let mut chart = axes(&root, c, bounds).unwrap();
            mesh(&mut chart, c).unwrap();
            for (k, l) in c.lines.iter().enumerate() {
                let color = COLORS[k % COLORS.len()];
                let pts = l.points.iter().filter(|p| p.1.is_finite()).copied();
                if c.area && k == 0 {
                    chart
                        .draw_series(AreaSeries::new(pts.clone(), 0.0, color.mix(0.25)))
                        .unwrap();
                }
                chart
                    .draw_series(LineSeries::new(pts, color.stroke_width(1)))
                    .unwrap()
                    .label(l.name.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                    });
            }
            legend(&mut chart, c).unwrap();
            root.present().unwrap();
        }
        out
    }

    /// Lines of dated points: daily or monthly steps, with gaps, NaNs and any magnitude.
    fn charts() -> impl Strategy<Value = Chart> {
        let line = (
            1usize..400,
            prop_oneof![Just(1i64), Just(3), Just(31)],
            -1e6f64..1e6,
            0.0f64..1e4,
            proptest::collection::vec(any::<u8>(), 1..400),
        )
            .prop_map(|(n, step, level, scale, noise)| {
                let d0 = NaiveDate::from_ymd_opt(1999, 11, 1).unwrap();
                let points = (0..n)
                    .map(|i| {
                        let b = noise[i % noise.len()];
                        let v = if b == 7 {
                            f64::NAN
                        } else {
                            level + scale * (f64::from(b) - 128.0) / 128.0
                        };
                        (d0 + chrono::Duration::days(i as i64 * step), v)
                    })
                    .collect();
                Line {
                    name: format!("{n} points"),
                    points,
                }
            });
        (
            proptest::collection::vec(line, 1..4),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(lines, area, percent)| {
                let mut c = Chart::new("a <chart> & \"quotes\"", "y", lines);
                c.area = area;
                c.percent = percent;
                c
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn prop_the_svg_is_plotters_own_byte_for_byte(c in charts()) {
            prop_assume!(extent(&c).is_ok());
            prop_assert_eq!(svg(&c).unwrap(), plotters_svg(&c));
        }
    }

    #[test]
    fn test_splice_refuses_a_count_mismatch() {
        let frame = "<a points=\"\"/><b points=\"\"/>";
        assert_eq!(
            points::splice(frame, &["1,2 ".into(), "3,4 ".into()]).unwrap(),
            "<a points=\"1,2 \"/><b points=\"3,4 \"/>"
        );
        assert!(points::splice(frame, &["1,2 ".into()]).is_err());
        assert!(points::splice(frame, &["1".into(), "2".into(), "3".into()]).is_err());
    }

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
