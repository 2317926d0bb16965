//! Latency and throughput over time, drawn with plotters' SVG backend, with the
//! same fault bands as the timeline; plus latency quantiles per function, and the
//! line plots a check's section asks for ([`series_svg`]).
//!
//! Decimation: the latency scatter keeps one `ok` point per 3×3-pixel cell (its
//! dots are 4 pixels wide, so the picture looks the same), and one `fail` / `info`
//! point per pixel: every anomaly survives unless another of the same outcome sits
//! on the very same pixel. Quantile lines and throughput are computed over all operations.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;

use checkers::section::Plot;
use history::History;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::html::{esc, latency_label};
use crate::intervals::{Intervals, Outcome};

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 360;
/// Time buckets for the quantile lines and throughput.
const BUCKETS: usize = 80;
/// Latency points beyond which the chart thins `fail` / `info` points as it thins
/// `ok` ones (one per cell of 4 pixels).
const DENSE_POINTS: usize = 200_000;

const OK: RGBColor = RGBColor(58, 158, 92);
const FAIL: RGBColor = RGBColor(217, 83, 79);
const INFO: RGBColor = RGBColor(230, 150, 40);
const BAND: RGBColor = RGBColor(110, 110, 200);

fn colour(o: Outcome) -> RGBColor {
    match o {
        Outcome::Ok => OK,
        Outcome::Fail => FAIL,
        Outcome::Info => INFO,
    }
}

/// The `q` quantile (0..=1) of sorted values, nearest rank.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// An x tick label: seconds with the precision the run's length needs.
fn axis_label(t: f64, iv: &Intervals) -> String {
    crate::timeline::axis_number(t, iv.timed, iv.span() / 10.0)
}

/// An error from plotters, as text (its error type is generic over the backend).
fn plot_err(e: impl std::fmt::Display) -> String {
    format!("plot: {e}")
}

/// Latency of each completed operation (completion minus invocation); operations
/// that never completed have none.
fn latencies(iv: &Intervals) -> impl Iterator<Item = (f64, f64, Outcome)> + '_ {
    iv.ops
        .iter()
        .filter(|o| o.completion.is_some())
        .map(|o| (o.start, (o.end - o.start), o.outcome))
}

/// The latency chart as SVG.
pub fn latency_svg(iv: &Intervals) -> Result<String, String> {
    let lat: Vec<(f64, f64, Outcome)> = latencies(iv).collect();
    // Untimed histories measure latency in positions, at least one.
    let floor = if iv.timed { 1e-6 } else { 1.0 };
    let lo = lat.iter().map(|l| l.1.max(floor)).fold(f64::INFINITY, f64::min);
    let hi = lat.iter().map(|l| l.1.max(floor)).fold(0.0, f64::max);
    let (lo, hi) =
        if lat.is_empty() { (floor, floor * 10.0) } else { (lo * 0.8, (hi * 1.25).max(lo * 10.0)) };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let y_desc = if iv.timed { "latency (s, log)" } else { "latency (positions, log)" };
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(70)
            .build_cartesian_2d(iv.t0..iv.t1, (lo..hi).log_scale())
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc(if iv.timed { "time (s)" } else { "history position" })
            .y_desc(y_desc)
            .y_label_formatter(&|v| latency_label(*v, iv.timed))
            .x_label_formatter(&|v| axis_label(*v, iv))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(plot_err)?;
        bands(&mut chart, iv, lo, hi)?;
        // One point per pixel cell and outcome.
        let (px_w, px_h) = chart.plotting_area().dim_in_pixel();
        let mut seen: HashSet<(u32, u32, Outcome)> = HashSet::new();
        let (ln_lo, ln_hi) = (lo.ln(), hi.ln());
        for outcome in [Outcome::Ok, Outcome::Fail, Outcome::Info] {
            // Beyond DENSE_POINTS, fail / info points share 4-pixel cells too, so
            // the chart stays bounded (~20 k points per outcome) however long the run.
            let cell = match (outcome, lat.len() > DENSE_POINTS) {
                (_, true) => 4.0,
                (Outcome::Ok, false) => 3.0,
                _ => 1.0,
            };
            let pts: Vec<(f64, f64)> = lat
                .iter()
                .filter(|l| l.2 == outcome)
                .map(|&(t, l, _)| (t, l.max(floor)))
                .filter(|&(t, l)| {
                    let cx = ((t - iv.t0) / iv.span() * px_w as f64 / cell) as u32;
                    let cy = ((l.ln() - ln_lo) / (ln_hi - ln_lo) * px_h as f64 / cell) as u32;
                    seen.insert((cx, cy, outcome))
                })
                .collect();
            let c = colour(outcome);
            chart
                .draw_series(pts.into_iter().map(|p| Circle::new(p, 2, c.filled())))
                .map_err(plot_err)?
                .label(outcome.name())
                .legend(move |(x, y)| Circle::new((x, y), 3, c.filled()));
        }
        // Quantile lines of ok latencies per time bucket, broken where a bucket has
        // none (a line across an outage would invent latencies).
        let buckets = bucketed(iv, |o| o.outcome == Outcome::Ok && o.completion.is_some());
        for (q, name, shade) in [(0.5, "p50", 0.9), (0.95, "p95", 0.6), (0.99, "p99", 0.35)] {
            let mut segments: Vec<Vec<(f64, f64)>> = Vec::new();
            let mut current: Vec<(f64, f64)> = Vec::new();
            for (t, ls) in &buckets {
                match quantile(ls, q) {
                    Some(v) => current.push((*t, v.max(floor))),
                    None if !current.is_empty() => segments.push(std::mem::take(&mut current)),
                    None => {}
                }
            }
            segments.push(current);
            let style = ShapeStyle { color: BLACK.mix(shade), filled: false, stroke_width: 2 };
            for (i, segment) in segments.into_iter().filter(|s| !s.is_empty()).enumerate() {
                let drawn = chart.draw_series(LineSeries::new(segment, style)).map_err(plot_err)?;
                if i == 0 {
                    drawn
                        .label(name)
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
                }
            }
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

/// Sorted ok latencies per time bucket, keyed by the bucket's middle.
fn bucketed(
    iv: &Intervals,
    keep: impl Fn(&crate::intervals::ClientOp) -> bool,
) -> Vec<(f64, Vec<f64>)> {
    let width = iv.span() / BUCKETS as f64;
    let mut b: Vec<Vec<f64>> = vec![Vec::new(); BUCKETS];
    for o in iv.ops.iter().filter(|o| keep(o)) {
        let k = (((o.start - iv.t0) / width) as usize).min(BUCKETS - 1);
        b[k].push(o.end - o.start);
    }
    b.into_iter()
        .enumerate()
        .map(|(k, mut v)| {
            v.sort_by(f64::total_cmp);
            (iv.t0 + (k as f64 + 0.5) * width, v)
        })
        .collect()
}

/// Translucent fault bands over a chart's full height.
fn bands<Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<
        '_,
        SVGBackend<'_>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, Y>,
    >,
    iv: &Intervals,
    lo: f64,
    hi: f64,
) -> Result<(), String> {
    chart
        .draw_series(iv.faults.iter().map(|w| {
            Rectangle::new([(w.start, lo), (w.end.max(w.start), hi)], BAND.mix(0.15).filled())
        }))
        .map_err(plot_err)?;
    Ok(())
}

/// Completions per second (per position for untimed histories), by outcome.
pub fn throughput_svg(iv: &Intervals) -> Result<String, String> {
    let width = iv.span() / BUCKETS as f64;
    let mut counts = [[0u64; BUCKETS]; 3];
    for o in iv.ops.iter().filter(|o| o.completion.is_some()) {
        let k = (((o.end - iv.t0) / width) as usize).min(BUCKETS - 1);
        counts[o.outcome as usize][k] += 1;
    }
    let per = |c: u64| c as f64 / width;
    let hi = counts.iter().flatten().map(|&c| per(c)).fold(0.0, f64::max).max(1e-9) * 1.15;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw_throughput(&root, iv, &counts, width, hi)?;
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

fn draw_throughput(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    iv: &Intervals,
    counts: &[[u64; BUCKETS]; 3],
    width: f64,
    hi: f64,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(plot_err)?;
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(iv.t0..iv.t1, 0.0..hi)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc(if iv.timed { "time (s)" } else { "history position" })
        .y_desc(if iv.timed { "completions / s" } else { "completions / position" })
        .y_label_formatter(&|v| format!("{v:.0}"))
        .x_label_formatter(&|v| axis_label(*v, iv))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(plot_err)?;
    bands(&mut chart, iv, 0.0, hi)?;
    for outcome in [Outcome::Ok, Outcome::Fail, Outcome::Info] {
        let c = colour(outcome);
        let line = counts[outcome as usize]
            .iter()
            .enumerate()
            .map(|(k, &n)| (iv.t0 + (k as f64 + 0.5) * width, n as f64 / width));
        chart
            .draw_series(LineSeries::new(line, c.stroke_width(2)))
            .map_err(plot_err)?
            .label(outcome.name())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(plot_err)?;
    Ok(())
}

/// Colours of a section plot's series, in order (then again).
const PALETTE: [RGBColor; 6] = [
    RGBColor(21, 101, 192),
    RGBColor(201, 48, 44),
    RGBColor(46, 139, 87),
    RGBColor(208, 138, 0),
    RGBColor(106, 27, 154),
    RGBColor(0, 131, 143),
];

/// A check's line plot. On a time axis (x in seconds since the start of a timed
/// run) the faults in force are drawn behind the lines, as in every other plot.
pub fn series_svg(plot: &Plot, iv: &Intervals) -> Result<String, String> {
    let points = || {
        plot.series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p.0.is_finite() && p.1.is_finite())
    };
    let (mut x0, mut x1) =
        points().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (mut y0, mut y1) =
        points().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let bands_too = plot.time_axis && iv.timed;
    if bands_too {
        (x0, x1) = (x0.min(iv.t0), x1.max(iv.t1));
    }
    if !(x0.is_finite() && x1.is_finite()) {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * 0.08).max(1e-9);
    let (y0, y1) = (y0 - pad, y1 + pad);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&plot.title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc(plot.x_label.as_str())
            .y_desc(plot.y_label.as_str())
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(plot_err)?;
        if bands_too {
            bands(&mut chart, iv, y0, y1)?;
        }
        for (i, series) in plot.series.iter().enumerate() {
            let c = PALETTE[i % PALETTE.len()];
            let line = series.points.iter().copied().filter(|p| p.0.is_finite() && p.1.is_finite());
            chart
                .draw_series(LineSeries::new(line, c.stroke_width(2)))
                .map_err(plot_err)?
                .label(series.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                });
        }
        if !plot.series.is_empty() {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperLeft)
                .draw()
                .map_err(plot_err)?;
        }
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

/// An HTML table of latency quantiles of `ok` operations, per function and overall.
pub fn quantile_table(history: &History, iv: &Intervals) -> String {
    let mut by_f: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut all = Vec::new();
    for o in iv.ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        let l = o.end - o.start;
        by_f.entry(history.ops[o.invoke].f.as_str()).or_default().push(l);
        all.push(l);
    }
    let mut s = String::from(
        r#"<table id="quantiles" class="grid"><tr><th>function</th><th>ok ops</th><th>p50</th><th>p95</th><th>p99</th><th>max</th></tr>"#,
    );
    let mut line = |name: &str, v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let q = |q: f64| quantile(v, q).map_or("–".into(), |x| latency_label(x, iv.timed));
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            v.len(),
            q(0.5),
            q(0.95),
            q(0.99),
            q(1.0)
        );
    };
    for (f, v) in by_f.iter_mut() {
        line(f, v);
    }
    line("all", &mut all);
    s.push_str("</table>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), Some(50.0));
        assert_eq!(quantile(&v, 0.99), Some(99.0));
        assert_eq!(quantile(&v, 1.0), Some(100.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
