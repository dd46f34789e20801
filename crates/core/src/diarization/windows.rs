//! Where speaker embeddings are taken: fixed windows sliding over each stretch of speech. 1.0 s
//! windows every 0.5 s: long enough for a usable GE2E embedding, short enough not to straddle
//! most speaker changes (1.5 s and 3 s windows did worse on real recordings).

use super::TimeSpan;

/// Length of one embedding window.
pub const WINDOW_SECS: f64 = 1.0;
/// Step between window starts.
pub const HOP_SECS: f64 = 0.5;
/// Speech shorter than this gets no window of its own (its words take the nearest turn).
pub const MIN_REGION_SECS: f64 = 0.3;

/// Windows over the speech `regions` (sorted, not overlapping): every [`HOP_SECS`] while a full
/// window fits, one more ending at the region's end when the last one falls short of it, and
/// the whole region as one window when it is shorter than [`WINDOW_SECS`].
pub fn plan_windows(regions: &[TimeSpan]) -> Vec<TimeSpan> {
    let mut windows = Vec::new();
    for region in regions {
        let length = region.duration_secs();
        if length < MIN_REGION_SECS {
            continue;
        }
        if length <= WINDOW_SECS {
            windows.push(*region);
            continue;
        }
        let mut start = region.start_secs;
        while start + WINDOW_SECS <= region.end_secs + 1e-9 {
            windows.push(TimeSpan::new(start, start + WINDOW_SECS));
            start += HOP_SECS;
        }
        if windows
            .last()
            .is_some_and(|last| last.end_secs < region.end_secs - 1e-9)
        {
            windows.push(TimeSpan::new(
                region.end_secs - WINDOW_SECS,
                region.end_secs,
            ));
        }
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_each_region() {
        let windows = plan_windows(&[
            TimeSpan::new(0.0, 2.2),
            TimeSpan::new(3.0, 3.2),
            TimeSpan::new(4.0, 4.6),
        ]);
        let starts: Vec<f64> = windows.iter().map(|w| w.start_secs).collect();
        assert_eq!(starts.len(), 5, "{windows:?}");
        assert_eq!(&starts[..3], &[0.0, 0.5, 1.0]);
        assert!((windows[3].start_secs - 1.2).abs() < 1e-9 && windows[3].end_secs == 2.2);
        // The 0.2 s region is skipped, the 0.6 s one is a single short window.
        assert_eq!(windows[4], TimeSpan::new(4.0, 4.6));
    }
}
