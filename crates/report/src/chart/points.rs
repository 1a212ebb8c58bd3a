//! The points of a chart's lines and areas written straight into the SVG text. plotters' SVG
//! backend formats each coordinate through `write!` into a string of its own and then copies
//! it character by character to escape it: for a tear sheet of 5,000-point lines that was
//! most of the chart's time. [`PointsApart`] hands plotters every element but the points,
//! which it writes itself (the same `x,y ` text); [`splice`] puts them back in order.

use plotters::prelude::*;
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

/// What an empty `points` attribute looks like in plotters' SVG output: the place a path's
/// or polygon's points go back. Text in the chart cannot contain it (plotters escapes `"`).
const HOLE: &str = "points=\"\"";

/// An SVG backend that writes the points of paths and polygons apart, in drawing order.
pub(super) struct PointsApart<'a, 'b> {
    svg: SVGBackend<'a>,
    points: &'b mut Vec<String>,
}

impl<'a, 'b> PointsApart<'a, 'b> {
    pub(super) fn new(svg: SVGBackend<'a>, points: &'b mut Vec<String>) -> Self {
        PointsApart { svg, points }
    }

    fn apart<I: IntoIterator<Item = BackendCoord>>(&mut self, path: I) {
        let path = path.into_iter();
        // "x,y " with three-digit coordinates on a 900 × 420 chart.
        let mut text = String::with_capacity(8 * path.size_hint().0);
        let mut buf = itoa::Buffer::new();
        for (x, y) in path {
            text.push_str(buf.format(x));
            text.push(',');
            text.push_str(buf.format(y));
            text.push(' ');
        }
        self.points.push(text);
    }
}

type Result<E> = std::result::Result<(), DrawingErrorKind<E>>;

impl DrawingBackend for PointsApart<'_, '_> {
    type ErrorType = <SVGBackend<'static> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.svg.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<Self::ErrorType> {
        self.svg.ensure_prepared()
    }

    fn present(&mut self) -> Result<Self::ErrorType> {
        self.svg.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<Self::ErrorType> {
        self.svg.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<Self::ErrorType> {
        self.svg.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<Self::ErrorType> {
        self.svg.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<Self::ErrorType> {
        // plotters writes nothing for a transparent path.
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        self.apart(path);
        self.svg.draw_path(std::iter::empty(), style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<Self::ErrorType> {
        self.svg.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<Self::ErrorType> {
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        self.apart(vert);
        self.svg.fill_polygon(std::iter::empty(), style)
    }

    fn draw_text<T: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &T,
        pos: BackendCoord,
    ) -> Result<Self::ErrorType> {
        self.svg.draw_text(text, style, pos)
    }

    fn estimate_text_size<T: BackendTextStyle>(
        &self,
        text: &str,
        style: &T,
    ) -> std::result::Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        self.svg.estimate_text_size(text, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<Self::ErrorType> {
        self.svg.blit_bitmap(pos, size, src)
    }
}

/// The SVG text with each empty `points` attribute filled, in order, with the points written
/// apart. An error if the counts differ (plotters wrote a path some other way).
pub(super) fn splice(frame: &str, points: &[String]) -> std::result::Result<String, String> {
    let mut out =
        String::with_capacity(frame.len() + points.iter().map(|p| p.len()).sum::<usize>());
    let mut rest = frame;
    for p in points {
        let Some(at) = rest.find(HOLE) else {
            return Err(format!(
                "{} paths drawn but fewer places for their points in the SVG",
                points.len()
            ));
        };
        let (head, tail) = rest.split_at(at + HOLE.len() - 1);
        out.push_str(head);
        out.push_str(p);
        rest = tail;
    }
    if rest.contains(HOLE) {
        return Err(format!(
            "more places for points in the SVG than the {} paths drawn",
            points.len()
        ));
    }
    out.push_str(rest);
    Ok(out)
}
