//! A heat map of a parameter sweep: the metric over two parameters, one cell per point
//! (the best over any other parameter), sharp peaks outlined — SVG text, drawn with the
//! same embedded font as the charts so it is identical on every machine.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::ReportError;
use crate::chart::{FAMILY, ensure_font};

/// The metric over a grid of two parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatMap {
    pub title: String,
    pub x_name: String,
    pub y_name: String,
    pub xs: Vec<f64>,
    pub ys: Vec<f64>,
    /// `cells[j][i]`: the value at `(xs[i], ys[j])`; `None` where no point has one.
    pub cells: Vec<Vec<Option<f64>>>,
    /// `(i, j)` of the cells to outline (sharp peaks).
    pub marked: Vec<(usize, usize)>,
}

/// Blue (low) through white to red (high).
fn color(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix =
        |a: u8, b: u8, u: f64| (f64::from(a) + (f64::from(b) - f64::from(a)) * u).round() as u8;
    if t < 0.5 {
        let u = t / 0.5;
        RGBColor(mix(49, 255, u), mix(104, 255, u), mix(172, 255, u))
    } else {
        let u = (t - 0.5) / 0.5;
        RGBColor(mix(255, 202, u), mix(255, 0, u), mix(255, 32, u))
    }
}

fn label(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e9 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The heat map as SVG text.
pub fn svg(h: &HeatMap) -> Result<String, ReportError> {
    ensure_font();
    let (nx, ny) = (h.xs.len(), h.ys.len());
    if nx == 0 || ny == 0 || h.cells.len() != ny || h.cells.iter().any(|r| r.len() != nx) {
        return Err(ReportError::Input(format!(
            "heat map {}: {ny} rows of {nx} cells expected",
            h.title
        )));
    }
    let vals: Vec<f64> = h.cells.iter().flatten().flatten().copied().collect();
    let (lo, hi) = vals
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    if vals.is_empty() {
        return Err(ReportError::Empty(h.title.clone()));
    }
    let cell_w = (760 / nx as i32).clamp(8, 90);
    let cell_h = (420 / ny as i32).clamp(8, 48);
    let (left, top) = (110i32, 60i32);
    let width = (left + cell_w * nx as i32 + 40) as u32;
    let height = (top + cell_h * ny as i32 + 70) as u32;
    let with_text = nx * ny <= 400 && cell_w >= 36;
    let mut out = String::new();
    let err = |e: &dyn std::fmt::Display| ReportError::Draw {
        chart: h.title.clone(),
        message: e.to_string(),
    };
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let font = |size: i32| TextStyle::from((FAMILY, size).into_font());
        let centre = Pos::new(HPos::Center, VPos::Center);
        root.draw(&Text::new(h.title.clone(), (left, 20), font(18)))
            .map_err(|e| err(&e))?;
        root.draw(&Text::new(
            format!("low {} · high {}", label(lo), label(hi)),
            (left, 42),
            font(12),
        ))
        .map_err(|e| err(&e))?;
        for (j, row) in h.cells.iter().enumerate() {
            // The first y value at the bottom.
            let y0 = top + cell_h * (ny - 1 - j) as i32;
            for (i, v) in row.iter().enumerate() {
                let x0 = left + cell_w * i as i32;
                let t = match v {
                    Some(v) if hi > lo => Some((v - lo) / (hi - lo)),
                    Some(_) => Some(0.5),
                    None => None,
                };
                let fill = t.map_or(RGBColor(220, 220, 220), color);
                root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cell_w, y0 + cell_h)],
                    fill.filled(),
                ))
                .map_err(|e| err(&e))?;
                if h.marked.contains(&(i, j)) {
                    root.draw(&Rectangle::new(
                        [(x0 + 1, y0 + 1), (x0 + cell_w - 1, y0 + cell_h - 1)],
                        BLACK.stroke_width(3),
                    ))
                    .map_err(|e| err(&e))?;
                }
                if let (true, Some(v)) = (with_text, v) {
                    root.draw(&Text::new(
                        format!("{v:.2}"),
                        (x0 + cell_w / 2, y0 + cell_h / 2),
                        // White on the darkest cells, black elsewhere.
                        font(10)
                            .pos(centre)
                            .color(if t.is_some_and(|t| (t - 0.5).abs() > 0.35) {
                                &WHITE
                            } else {
                                &BLACK
                            }),
                    ))
                    .map_err(|e| err(&e))?;
                }
            }
            root.draw(&Text::new(
                label(h.ys[j]),
                (left - 8, y0 + cell_h / 2),
                font(11).pos(Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(|e| err(&e))?;
        }
        let bottom = top + cell_h * ny as i32;
        let every = nx.div_ceil(20).max(1);
        for (i, x) in h.xs.iter().enumerate().step_by(every) {
            root.draw(&Text::new(
                label(*x),
                (left + cell_w * i as i32 + cell_w / 2, bottom + 12),
                font(11).pos(centre),
            ))
            .map_err(|e| err(&e))?;
        }
        root.draw(&Text::new(
            h.x_name.clone(),
            (left + cell_w * nx as i32 / 2, bottom + 36),
            font(13).pos(centre),
        ))
        .map_err(|e| err(&e))?;
        root.draw(&Text::new(h.y_name.clone(), (8, top - 12), font(13)))
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_heat_map_draws_every_cell_and_outlines_marked_ones() {
        let h = HeatMap {
            title: "sharpe".into(),
            x_name: "fast".into(),
            y_name: "slow".into(),
            xs: vec![5.0, 10.0, 15.0],
            ys: vec![20.0, 40.0],
            cells: vec![
                vec![Some(0.1), Some(0.5), None],
                vec![Some(0.2), Some(1.5), Some(0.3)],
            ],
            marked: vec![(1, 1)],
        };
        let s = svg(&h).unwrap();
        assert_eq!(s, svg(&h).unwrap());
        // Six cells, one outline (black stroke), and the missing cell in grey.
        assert_eq!(s.matches("<rect").count(), 1 + 6 + 1, "{s}");
        assert!(s.contains("1.50") && s.contains("fast") && s.contains("slow"));
        assert!(
            s.contains("#DCDCDC") || s.contains("rgb(220,220,220)") || s.contains("DCDCDC"),
            "{s}"
        );
        let bad = HeatMap {
            cells: vec![vec![Some(1.0)]],
            ..h
        };
        assert!(svg(&bad).is_err());
    }
}
