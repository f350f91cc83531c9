//! Charts as SVG, for the PDF: a [`Chart`] of the document model drawn
//! with plotters' SVG backend, in pixels of a `width` × `height` canvas.
//!
//! Everything is laid out here by hand (title, legend, unit, value axis,
//! category labels) rather than by plotters' mesh, so that labels are
//! shortened or turned upright to never overlap and so that no number
//! (NaN, infinities, ±1e308, a single category, no category at all) can
//! make a chart fail: a chart with nothing to draw says "no data".
//!
//! Text is drawn in [`FONT`], a family that `typst_assets::fonts()`
//! embeds: typst renders an SVG's `<text>` with the fonts of its own
//! font book, so the labels show in the PDF without any system font.
//! plotters measures no text when built without its `ttf` feature;
//! widths are estimated here from [`unicode_width`] columns, generously.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::doc::{Chart, ChartKind, shorten};

/// The font family of every text in a chart (embedded by typst-assets).
pub(crate) const FONT: &str = "Libertinus Serif";

/// Series colours, in order (they repeat after ten).
static PALETTE: [RGBColor; 10] = [
    RGBColor(0x4E, 0x79, 0xA7),
    RGBColor(0xF2, 0x8E, 0x2B),
    RGBColor(0x59, 0xA1, 0x4F),
    RGBColor(0xE1, 0x57, 0x59),
    RGBColor(0x76, 0xB7, 0xB2),
    RGBColor(0xB0, 0x7A, 0xA1),
    RGBColor(0xED, 0xC9, 0x48),
    RGBColor(0x9C, 0x75, 0x5F),
    RGBColor(0xFF, 0x9D, 0xA7),
    RGBColor(0x79, 0x70, 0x6E),
];

static INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
static MUTED: RGBColor = RGBColor(0x66, 0x66, 0x66);
static AXIS: RGBColor = RGBColor(0x88, 0x88, 0x88);
static GRID: RGBColor = RGBColor(0xE3, 0xE3, 0xE3);

/// Font sizes in SVG pixels.
const TITLE_PX: f64 = 20.0;
const LABEL_PX: f64 = 14.0;
const SMALL_PX: f64 = 13.0;
/// Backend units per layout pixel.
const RES: u8 = 4;
/// The space around everything.
const MARGIN: f64 = 12.0;
/// Estimated advance of one column of text, in ems (generous for the
/// serif's digits and lower case, so that estimates err on the wide side).
const EM_PER_COLUMN: f64 = 0.56;
/// Longest category label before it is shortened, in columns.
const MAX_LABEL_COLUMNS: usize = 36;

/// The chart as an SVG document of `width` × `height` pixels (its
/// coordinates in [`RES`]ths of a pixel, so that slices and lines are
/// smooth although plotters draws on whole numbers).
///
/// Never fails: a chart with no finite value (or, for a pie, no positive
/// one) is drawn as its title and "no data".
pub(crate) fn svg(chart: &Chart, width: u32, height: u32) -> String {
    let width = width.clamp(120, 8000);
    let height = height.clamp(90, 8000);
    let mut out = String::new();
    let drawn = {
        let root =
            SVGBackend::with_string(&mut out, (width * u32::from(RES), height * u32::from(RES)))
                .into_drawing_area();
        let canvas = Canvas {
            width: f64::from(width),
            height: f64::from(height),
        };
        let result =
            draw(&root, &canvas, chart).and_then(|()| root.present().map_err(|e| e.to_string()));
        result.is_ok()
    };
    if drawn && !out.is_empty() {
        out
    } else {
        // plotters' SVG backend writes to a string and does not fail in
        // practice; if it ever did, the report still gets a picture.
        fallback(chart, width, height)
    }
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type Drawn = Result<(), String>;

/// The canvas size in pixels.
struct Canvas {
    width: f64,
    height: f64,
}

fn draw(root: &Area<'_>, canvas: &Canvas, chart: &Chart) -> Drawn {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut top = MARGIN;
    // The title, shortened to the width.
    let title = clean(&chart.title);
    if !title.is_empty() {
        let cols = columns_in(canvas.width - 2.0 * MARGIN, TITLE_PX);
        let style = text_style(TITLE_PX, FontStyle::Bold, &INK, HPos::Center, VPos::Top);
        root.draw(&Text::new(
            shorten(&title, cols),
            (px(canvas.width / 2.0), px(top)),
            style,
        ))
        .map_err(|e| e.to_string())?;
        top += TITLE_PX * 1.45;
    }
    match chart.kind {
        ChartKind::Bar | ChartKind::Line => draw_axes_chart(root, canvas, chart, top),
        ChartKind::Pie => draw_pie(root, canvas, chart, top),
    }
}

/// A bar or line chart: legend, unit, value axis, categories, marks.
fn draw_axes_chart(root: &Area<'_>, canvas: &Canvas, chart: &Chart, mut top: f64) -> Drawn {
    let n = chart.categories.len();
    let series: Vec<(String, Vec<Option<f64>>)> = chart
        .series
        .iter()
        .map(|s| {
            let values = (0..n)
                .map(|i| s.values.get(i).copied().flatten().and_then(finite))
                .collect();
            (clean(&s.name), values)
        })
        .collect();
    let finite_values: Vec<f64> = series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten().copied())
        .collect();
    if n == 0 || finite_values.is_empty() {
        return no_data(root, canvas, top);
    }

    // Legend: one entry per series when there are several.
    if series.len() > 1 {
        let names: Vec<String> = series.iter().map(|(name, _)| name.clone()).collect();
        top = draw_legend(root, canvas, &names, top)?;
    }
    // The unit, above the value axis.
    let unit = clean(&chart.unit);
    if !unit.is_empty() {
        let style = text_style(SMALL_PX, FontStyle::Italic, &MUTED, HPos::Left, VPos::Top);
        root.draw(&Text::new(shorten(&unit, 40), (px(MARGIN), px(top)), style))
            .map_err(|e| e.to_string())?;
        top += SMALL_PX * 1.5;
    }
    top += SMALL_PX * 0.6;

    // The value axis: bars start from zero; lines span their values.
    let min = finite_values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = finite_values
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let axis = match chart.kind {
        ChartKind::Bar => ValueAxis::new(min.min(0.0), max.max(0.0)),
        // Lines keep a little room above and below their points.
        _ => {
            let pad = (max - min) * 0.05;
            ValueAxis::new(min - pad, max + pad)
        }
    };
    let tick_labels: Vec<String> = axis.ticks().iter().map(|&t| axis.format(t)).collect();
    let label_width = tick_labels
        .iter()
        .map(|t| text_width(t, SMALL_PX))
        .fold(0.0, f64::max);
    let left = MARGIN + label_width + 8.0;
    let right = canvas.width - MARGIN;
    let plot_width = (right - left).max(10.0);
    let slot = plot_width / n as f64;

    // Category labels: across when they fit, upright when they do not.
    let labels: Vec<String> = chart.categories.iter().map(|c| clean(c)).collect();
    let across_columns = columns_in(slot - 4.0, LABEL_PX);
    let widest = labels.iter().map(|l| columns(l)).max().unwrap_or(0);
    let across = widest <= across_columns || across_columns >= 10;
    let (shown, label_height, every) = if across {
        let cols = across_columns.clamp(1, MAX_LABEL_COLUMNS);
        let shown: Vec<String> = labels.iter().map(|l| shorten(l, cols)).collect();
        (shown, LABEL_PX * 1.7, 1)
    } else {
        // Upright labels take at most 38 % of the height.
        let cols = columns_in(canvas.height * 0.38, LABEL_PX).clamp(3, 22);
        let shown: Vec<String> = labels.iter().map(|l| shorten(l, cols)).collect();
        let tallest = shown
            .iter()
            .map(|l| text_width(l, LABEL_PX))
            .fold(0.0, f64::max);
        // One label per line height: skip labels where slots are thinner.
        let every = ((LABEL_PX * 1.25) / slot).ceil().max(1.0) as usize;
        (shown, tallest + 10.0, every)
    };
    let bottom = (canvas.height - MARGIN - label_height).max(top + 20.0);
    let to_y = |v: f64| axis.y_of(v, top, bottom);

    // Grid and tick labels.
    for (tick, label) in axis.ticks().iter().zip(&tick_labels) {
        let y = px(to_y(*tick));
        root.draw(&PathElement::new(
            vec![(px(left), y), (px(right), y)],
            stroke(&GRID, 1),
        ))
        .map_err(|e| e.to_string())?;
        let style = text_style(
            SMALL_PX,
            FontStyle::Normal,
            &MUTED,
            HPos::Right,
            VPos::Center,
        );
        root.draw(&Text::new(label.clone(), (px(left - 6.0), y), style))
            .map_err(|e| e.to_string())?;
    }
    // Axes: the value axis at the left, the baseline at zero (or the foot).
    root.draw(&PathElement::new(
        vec![(px(left), px(top)), (px(left), px(bottom))],
        stroke(&AXIS, 1),
    ))
    .map_err(|e| e.to_string())?;

    match chart.kind {
        ChartKind::Bar => {
            let count = series.len().max(1) as f64;
            let group = slot * 0.8;
            let bar = (group / count).max(1.0);
            let zero = to_y(0.0);
            for (j, (_, values)) in series.iter().enumerate() {
                let colour = &PALETTE[j % PALETTE.len()];
                for (i, value) in values.iter().enumerate() {
                    let Some(v) = *value else { continue };
                    let x0 = left + slot * i as f64 + slot * 0.1 + bar * j as f64;
                    let x1 = (x0 + bar - if bar > 4.0 { 1.0 } else { 0.0 }).max(x0 + 1.0);
                    let y = to_y(v);
                    let (y0, y1) = (y.min(zero), y.max(zero));
                    root.draw(&Rectangle::new(
                        [(px(x0), px(y0)), (px(x1), px(y1.max(y0 + 1.0)))],
                        colour.filled(),
                    ))
                    .map_err(|e| e.to_string())?;
                }
            }
        }
        _ => {
            let radius = (slot / 3.0).clamp(1.0, 3.5);
            for (j, (_, values)) in series.iter().enumerate() {
                let colour = &PALETTE[j % PALETTE.len()];
                let x_of = |i: usize| px(left + slot * (i as f64 + 0.5));
                // A `None` ends a run: each run is one line.
                let mut run: Vec<(i32, i32)> = Vec::new();
                let mut runs: Vec<Vec<(i32, i32)>> = Vec::new();
                for (i, value) in values.iter().enumerate() {
                    match value {
                        Some(v) => run.push((x_of(i), px(to_y(*v)))),
                        None => runs.push(std::mem::take(&mut run)),
                    }
                }
                runs.push(run);
                for run in runs.iter().filter(|r| r.len() > 1) {
                    root.draw(&PathElement::new(run.clone(), stroke(colour, 2)))
                        .map_err(|e| e.to_string())?;
                }
                for point in runs.iter().flatten() {
                    root.draw(&Circle::new(*point, px(radius), colour.filled()))
                        .map_err(|e| e.to_string())?;
                }
            }
        }
    }
    // The baseline over the bars' feet.
    let base = px(to_y(if axis.lo <= 0.0 && axis.hi >= 0.0 {
        0.0
    } else {
        axis.lo
    }));
    root.draw(&PathElement::new(
        vec![(px(left), base), (px(right), base)],
        stroke(&AXIS, 1),
    ))
    .map_err(|e| e.to_string())?;

    // Category labels under the plot.
    for (i, label) in shown.iter().enumerate() {
        if i % every != 0 {
            continue;
        }
        let x = px(left + slot * (i as f64 + 0.5));
        let y = px(bottom + 5.0);
        let style = if across {
            text_style(LABEL_PX, FontStyle::Normal, &INK, HPos::Center, VPos::Top)
        } else {
            text_style(LABEL_PX, FontStyle::Normal, &INK, HPos::Right, VPos::Center)
                .transform(FontTransform::Rotate270)
        };
        root.draw(&Text::new(label.clone(), (x, y), style))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A pie of the first series' positive values, a legend at its right.
fn draw_pie(root: &Area<'_>, canvas: &Canvas, chart: &Chart, top: f64) -> Drawn {
    let slices: Vec<(String, f64)> = chart
        .series
        .first()
        .map(|s| {
            chart
                .categories
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    let v = s.values.get(i).copied().flatten().and_then(finite)?;
                    (v > 0.0).then(|| (clean(c), v))
                })
                .collect()
        })
        .unwrap_or_default();
    let total: f64 = slices.iter().map(|(_, v)| v).sum();
    if slices.is_empty() || !(total.is_finite() && total > 0.0) {
        return no_data(root, canvas, top);
    }

    let area_height = (canvas.height - MARGIN - top).max(20.0);
    let radius = (area_height / 2.0 - 4.0).min(canvas.width * 0.22).max(8.0);

    // The legend's rows (a swatch, the label and its share), as many as
    // fit; the pie and its legend are centred together.
    let row = LABEL_PX * 1.6;
    let rows = ((area_height / row).floor() as usize).max(1);
    let fits_all = slices.len() <= rows;
    let listed = if fits_all {
        slices.len()
    } else {
        rows.saturating_sub(1)
    };
    let room = canvas.width - 2.0 * MARGIN - 2.0 * radius - 28.0 - 18.0;
    let cols = columns_in(room, LABEL_PX).saturating_sub(8).clamp(1, 40);
    let mut entries: Vec<String> = slices
        .iter()
        .take(listed)
        .map(|(label, v)| format!("{} ({})", shorten(label, cols), percent(v / total)))
        .collect();
    if !fits_all {
        entries.push(format!("+ {} more", slices.len() - listed));
    }
    let legend_width = 18.0
        + entries
            .iter()
            .map(|e| text_width(e, LABEL_PX))
            .fold(0.0, f64::max);
    let group = 2.0 * radius + 28.0 + legend_width;
    let cx = ((canvas.width - group) / 2.0).max(MARGIN) + radius;
    let cy = top + area_height / 2.0;
    let mut start = -std::f64::consts::FRAC_PI_2;
    for (k, (_, v)) in slices.iter().enumerate() {
        let colour = &PALETTE[k % PALETTE.len()];
        let share = v / total;
        let sweep = share * std::f64::consts::TAU;
        if slices.len() == 1 {
            root.draw(&Circle::new((px(cx), px(cy)), px(radius), colour.filled()))
                .map_err(|e| e.to_string())?;
        } else {
            let steps = ((sweep.to_degrees() / 2.0).ceil() as usize).clamp(1, 200);
            let mut points = vec![(px(cx), px(cy))];
            for s in 0..=steps {
                let a = start + sweep * s as f64 / steps as f64;
                points.push((px(cx + radius * a.cos()), px(cy + radius * a.sin())));
            }
            root.draw(&Polygon::new(points, colour.filled()))
                .map_err(|e| e.to_string())?;
        }
        // The share inside its slice when there is room for it.
        if share >= 0.06 {
            let mid = start + sweep / 2.0;
            let (tx, ty) = if slices.len() == 1 {
                (cx, cy)
            } else {
                (
                    cx + radius * 0.62 * mid.cos(),
                    cy + radius * 0.62 * mid.sin(),
                )
            };
            let style = text_style(
                SMALL_PX,
                FontStyle::Bold,
                &WHITE,
                HPos::Center,
                VPos::Center,
            );
            root.draw(&Text::new(percent(share), (px(tx), px(ty)), style))
                .map_err(|e| e.to_string())?;
        }
        start += sweep;
    }

    let x = cx + radius + 28.0;
    let legend_top = cy - row * entries.len() as f64 / 2.0;
    for (k, entry) in entries.into_iter().enumerate() {
        let y = legend_top + row * k as f64;
        let more = k >= listed;
        if !more {
            let colour = &PALETTE[k % PALETTE.len()];
            root.draw(&Rectangle::new(
                [(px(x), px(y + 3.0)), (px(x + 12.0), px(y + 15.0))],
                colour.filled(),
            ))
            .map_err(|e| e.to_string())?;
        }
        let (style, colour) = if more {
            (FontStyle::Italic, &MUTED)
        } else {
            (FontStyle::Normal, &INK)
        };
        let style = text_style(LABEL_PX, style, colour, HPos::Left, VPos::Top);
        root.draw(&Text::new(entry, (px(x + 18.0), px(y + 2.0)), style))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The series' names with their colours, in rows under the title.
/// Returns the y under the legend.
fn draw_legend(
    root: &Area<'_>,
    canvas: &Canvas,
    names: &[String],
    top: f64,
) -> Result<f64, String> {
    let row = SMALL_PX * 1.5;
    let mut x = MARGIN;
    let mut y = top;
    for (j, name) in names.iter().enumerate() {
        let name = shorten(name, 28);
        let entry = 12.0 + 5.0 + text_width(&name, SMALL_PX) + 18.0;
        if x > MARGIN && x + entry > canvas.width - MARGIN {
            x = MARGIN;
            y += row;
        }
        let colour = &PALETTE[j % PALETTE.len()];
        root.draw(&Rectangle::new(
            [(px(x), px(y + 2.0)), (px(x + 12.0), px(y + 14.0))],
            colour.filled(),
        ))
        .map_err(|e| e.to_string())?;
        let style = text_style(SMALL_PX, FontStyle::Normal, &INK, HPos::Left, VPos::Top);
        root.draw(&Text::new(name, (px(x + 17.0), px(y + 1.0)), style))
            .map_err(|e| e.to_string())?;
        x += entry;
    }
    Ok(y + row)
}

/// "no data", centred under the title.
fn no_data(root: &Area<'_>, canvas: &Canvas, top: f64) -> Drawn {
    let y = top + (canvas.height - top) / 2.0;
    let style = text_style(
        LABEL_PX * 1.2,
        FontStyle::Italic,
        &MUTED,
        HPos::Center,
        VPos::Center,
    );
    root.draw(&Text::new(
        "no data",
        (px(canvas.width / 2.0), px(y)),
        style,
    ))
    .map_err(|e| e.to_string())
}

/// A minimal SVG with the title and a word, should plotters fail.
fn fallback(chart: &Chart, width: u32, height: u32) -> String {
    let title: String = shorten(&clean(&chart.title), 60)
        .chars()
        .map(|c| match c {
            '<' | '>' | '&' | '"' | '\'' => ' ',
            c => c,
        })
        .collect();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\
         <text x=\"{x}\" y=\"30\" text-anchor=\"middle\" font-family=\"{FONT}\" font-size=\"20\">{title}</text>\
         <text x=\"{x}\" y=\"{y}\" text-anchor=\"middle\" font-family=\"{FONT}\" font-size=\"16\" fill=\"#666\">no chart</text></svg>",
        x = width / 2,
        y = height / 2,
    )
}

/// The value axis: a range with round ends and a round step.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ValueAxis {
    lo: f64,
    hi: f64,
    step: f64,
}

impl ValueAxis {
    /// An axis over `min..=max` (finite, within ±1e300), about five steps.
    fn new(min: f64, max: f64) -> Self {
        let (mut lo, mut hi) = (min.min(max), min.max(max));
        if !(lo.is_finite() && hi.is_finite()) {
            (lo, hi) = (0.0, 1.0);
        }
        let magnitude = lo.abs().max(hi.abs());
        if hi - lo <= magnitude * 1e-9 || hi - lo < f64::MIN_POSITIVE * 1e6 {
            // A flat range: pad it (keeping zero as an end when it is one).
            let pad = if magnitude > 1e-200 {
                magnitude * 0.1
            } else {
                1.0
            };
            if lo == 0.0 {
                hi = pad;
            } else if hi == 0.0 {
                lo = -pad;
            } else {
                lo -= pad;
                hi += pad;
            }
        }
        let raw = (hi - lo) / 5.0;
        let mut step = nice_step(raw);
        if !(step.is_finite() && step > 0.0) {
            step = raw;
        }
        let first = (lo / step).floor() * step;
        let last = (hi / step).ceil() * step;
        if first.is_finite() && last.is_finite() && last > first {
            Self {
                lo: first,
                hi: last,
                step,
            }
        } else {
            Self { lo, hi, step }
        }
    }

    /// The tick values from `lo` to `hi` (at most 50).
    fn ticks(&self) -> Vec<f64> {
        let count = ((self.hi - self.lo) / self.step).round();
        let count = if count.is_finite() {
            count.clamp(1.0, 50.0) as usize
        } else {
            1
        };
        (0..=count)
            .map(|i| self.lo + self.step * i as f64)
            .collect()
    }

    /// The y pixel of `v` between `top` (at `hi`) and `bottom` (at `lo`).
    fn y_of(&self, v: f64, top: f64, bottom: f64) -> f64 {
        let span = self.hi - self.lo;
        let t = if span > 0.0 {
            ((v - self.lo) / span).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let t = if t.is_finite() { t } else { 0.0 };
        bottom - t * (bottom - top)
    }

    /// A tick's label: thousands as k, millions as M, billions as B,
    /// trillions as T, beyond that in scientific notation; as many
    /// decimals as the step needs.
    fn format(&self, v: f64) -> String {
        let v = if v.abs() < self.step * 1e-6 { 0.0 } else { v };
        let magnitude = self.lo.abs().max(self.hi.abs());
        if magnitude >= 1e15 {
            return format!("{v:.1e}");
        }
        let (scale, suffix) = if magnitude >= 1e12 {
            (1e12, "T")
        } else if magnitude >= 1e9 {
            (1e9, "B")
        } else if magnitude >= 1e6 {
            (1e6, "M")
        } else if magnitude >= 1e4 {
            (1e3, "k")
        } else {
            (1.0, "")
        };
        let step = self.step / scale;
        let decimals = (0..=6)
            .find(|&d| {
                let scaled = step * 10f64.powi(d);
                (scaled - scaled.round()).abs() < 1e-6 * scaled.abs().max(1.0)
            })
            .unwrap_or(6) as usize;
        let shown = v / scale;
        if shown == 0.0 {
            return "0".to_string();
        }
        format!("{shown:.decimals$}{suffix}")
    }
}

/// 1, 2, 2.5 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let base = 10f64.powf(raw.log10().floor());
    let f = raw / base;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * base
}

/// A share as a percentage with one decimal.
fn percent(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

/// A finite value, within ±1e300 so that sums and ranges stay finite.
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then(|| v.clamp(-1e300, 1e300))
}

/// Text without control characters (which XML does not allow).
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn columns(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

/// The estimated width of `text` in pixels at `size`.
fn text_width(text: &str, size: f64) -> f64 {
    columns(text) as f64 * size * EM_PER_COLUMN
}

/// How many columns fit in `width` pixels at `size`.
fn columns_in(width: f64, size: f64) -> usize {
    let n = (width / (size * EM_PER_COLUMN)).floor();
    if n.is_finite() && n > 0.0 {
        n as usize
    } else {
        0
    }
}

/// A pixel of the layout as a coordinate of the backend, which is [`RES`]
/// times finer (saturating; NaN becomes 0).
fn px(v: f64) -> i32 {
    (v * f64::from(RES)).round() as i32
}

/// A line width of `w` layout pixels.
fn stroke(colour: &RGBColor, w: u32) -> ShapeStyle {
    colour.stroke_width(w * u32::from(RES))
}

/// A text style in [`FONT`]: `size` in SVG pixels.
fn text_style(
    size: f64,
    style: FontStyle,
    colour: &'static RGBColor,
    h: HPos,
    v: VPos,
) -> TextStyle<'static> {
    // plotters writes `font-size` as the size divided by 1.24.
    TextStyle::from(FontDesc::new(
        FontFamily::Name(FONT),
        size * f64::from(RES) * 1.24,
        style,
    ))
    .color(colour)
    .pos(Pos::new(h, v))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::doc::Series;

    fn chart(kind: ChartKind, categories: &[&str], series: &[(&str, &[Option<f64>])]) -> Chart {
        Chart {
            kind,
            title: "Title".into(),
            categories: categories.iter().map(|c| c.to_string()).collect(),
            series: series
                .iter()
                .map(|(name, values)| Series {
                    name: name.to_string(),
                    values: values.to_vec(),
                })
                .collect(),
            unit: "USD".into(),
        }
    }

    fn all_kinds(categories: &[&str], series: &[(&str, &[Option<f64>])]) -> Vec<String> {
        [ChartKind::Bar, ChartKind::Line, ChartKind::Pie]
            .into_iter()
            .map(|kind| {
                let out = svg(&chart(kind, categories, series), 800, 400);
                assert!(out.starts_with("<svg"), "{out}");
                assert!(out.trim_end().ends_with("</svg>"), "{out}");
                out
            })
            .collect()
    }

    #[test]
    fn empty_charts_say_no_data() {
        for out in all_kinds(&[], &[]) {
            assert!(out.contains("no data"), "{out}");
        }
        for out in all_kinds(&["a", "b"], &[("s", &[None, None])]) {
            assert!(out.contains("no data"), "{out}");
        }
        for out in all_kinds(
            &["a", "b"],
            &[("s", &[Some(f64::NAN), Some(f64::INFINITY)])],
        ) {
            assert!(out.contains("no data"), "{out}");
        }
        // A pie of zeros and negatives has no slice.
        let pie = svg(
            &chart(
                ChartKind::Pie,
                &["a", "b"],
                &[("s", &[Some(0.0), Some(-3.0)])],
            ),
            800,
            400,
        );
        assert!(pie.contains("no data"), "{pie}");
        assert!(!pie.contains("<polygon"), "{pie}");
    }

    #[test]
    fn odd_numbers_never_panic() {
        let values: &[Option<f64>] = &[
            Some(f64::MAX),
            Some(-f64::MAX),
            Some(f64::NEG_INFINITY),
            None,
            Some(1e-320),
            Some(0.0),
        ];
        let cats = ["a", "b", "c", "d", "e", "f"];
        all_kinds(&cats, &[("s", values), ("t", &[Some(1.0)])]);
        all_kinds(&["only"], &[("s", &[Some(42.0)])]);
        all_kinds(&["only"], &[("s", &[Some(-42.0)])]);
        all_kinds(&["x", "y"], &[("s", &[Some(1e-9), Some(2e-9)])]);
        all_kinds(&["x", "y"], &[("s", &[Some(5.0), Some(5.0)])]);
        // Values longer or shorter than the categories.
        all_kinds(
            &["x", "y", "z"],
            &[("s", &[Some(1.0)]), ("t", &[Some(1.0); 9])],
        );
        // A tiny canvas.
        svg(
            &chart(ChartKind::Bar, &["a"; 40], &[("s", &[Some(1.0); 40])]),
            0,
            0,
        );
    }

    #[test]
    fn negative_bars_get_an_axis_below_zero() {
        let out = svg(
            &chart(
                ChartKind::Bar,
                &["a", "b"],
                &[("s", &[Some(-20.0), Some(50.0)])],
            ),
            800,
            400,
        );
        assert!(out.contains(">\n-20\n<"), "{out}");
        assert!(out.contains(">\n60\n<"), "{out}");
    }

    #[test]
    fn a_legend_only_for_several_series() {
        let one = svg(
            &chart(ChartKind::Bar, &["a"], &[("Revenue", &[Some(1.0)])]),
            800,
            400,
        );
        assert!(!one.contains("Revenue"), "{one}");
        let two = svg(
            &chart(
                ChartKind::Bar,
                &["a"],
                &[("Revenue", &[Some(1.0)]), ("Cost", &[Some(2.0)])],
            ),
            800,
            400,
        );
        assert!(two.contains("Revenue") && two.contains("Cost"), "{two}");
    }

    #[test]
    fn labels_are_escaped_and_cleaned() {
        let out = svg(
            &chart(ChartKind::Bar, &["<b>&\"x\"\u{0}"], &[("s", &[Some(1.0)])]),
            800,
            400,
        );
        assert!(out.contains("&lt;b&gt;&amp;&quot;x&quot;"), "{out}");
        assert!(!out.contains('\u{0}'));
    }

    #[test]
    fn many_long_labels_stand_upright_and_are_thinned() {
        let long: Vec<String> = (0..60)
            .map(|i| format!("Category number {i} with a long name"))
            .collect();
        let refs: Vec<&str> = long.iter().map(String::as_str).collect();
        let values = vec![Some(1.0); 60];
        let out = svg(&chart(ChartKind::Line, &refs, &[("s", &values)]), 800, 400);
        assert!(out.contains("rotate(270"), "{out}");
        assert!(out.contains('…'));
        // Not every label is drawn when 60 do not fit side by side.
        let drawn = out.matches(">\nCategory").count();
        assert!(drawn < 60 && drawn > 5, "{drawn}");
    }

    #[test]
    fn pies_show_shares() {
        let out = svg(
            &chart(
                ChartKind::Pie,
                &["a", "b", "c"],
                &[("s", &[Some(1.0), Some(3.0), None])],
            ),
            800,
            400,
        );
        assert!(out.contains("25.0 %") && out.contains("75.0 %"), "{out}");
        let one = svg(
            &chart(ChartKind::Pie, &["all"], &[("s", &[Some(7.0)])]),
            800,
            400,
        );
        assert!(one.contains("100.0 %"), "{one}");
        let many: Vec<String> = (0..40).map(|i| format!("slice {i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let out = svg(
            &chart(ChartKind::Pie, &refs, &[("s", &vec![Some(1.0); 40])]),
            800,
            400,
        );
        assert!(out.contains("more"), "{out}");
    }

    #[test]
    fn axis_ticks_are_round() {
        let axis = ValueAxis::new(0.0, 97.0);
        assert_eq!((axis.lo, axis.hi, axis.step), (0.0, 100.0, 20.0));
        assert_eq!(axis.format(40.0), "40");
        let axis = ValueAxis::new(0.0, 12.0);
        assert_eq!(axis.format(7.5), "7.5");
        let axis = ValueAxis::new(0.0, 2_400_000.0);
        assert_eq!(axis.format(1_000_000.0), "1.0M");
        let axis = ValueAxis::new(0.0, 0.0);
        assert_eq!((axis.lo, axis.hi), (0.0, 1.0));
        let axis = ValueAxis::new(-1e300, 1e300);
        assert!(axis.ticks().iter().all(|t| t.is_finite()));
        assert!(axis.format(axis.hi).contains('e'));
    }
}
