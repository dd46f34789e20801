//! Clustering of speaker embeddings into speakers. Whether there is more than one speaker is
//! decided globally, by average-linkage agglomerative clustering on cosine distance (built
//! with the nearest-neighbour chain: O(n²) time and memory, the same tree as the naive O(n³)
//! method because average linkage is reducible): one speaker when everything joins within the
//! distance threshold. How many and who, otherwise, is decided by [`super::spectral`]
//! clustering, which looks at each window's nearest neighbours rather than at one global
//! similarity cut (GE2E similarities of one voice and of two voices overlap across a
//! recording, so no single cut fits all of them).
//!
//! Long recordings are clustered on an evenly spread sample of [`MAX_CLUSTERED`] windows; the
//! rest join the cluster whose centroid is closest, so time and memory stay bounded (the
//! eigendecomposition is cubic: about 2 s for the full sample).

use super::SpeakerCount;
use super::spectral::{MAX_AUTO_SPEAKERS, spectral_cluster};

/// Clusters with fewer windows than this are absorbed by the nearest larger one: a single odd
/// window (a cough, two voices at once) is not a speaker.
pub const MIN_CLUSTER_WINDOWS: usize = 3;
/// Most windows clustered directly (about 8 minutes of continuous speech).
pub const MAX_CLUSTERED: usize = 1000;

/// A cluster label per embedding, numbered from 0 in order of first appearance.
pub fn cluster(embeddings: &[Vec<f32>], count: &SpeakerCount) -> Vec<usize> {
    cluster_sampled(embeddings, count, MAX_CLUSTERED)
}

/// [`cluster`] with at most `max_clustered` windows clustered directly.
fn cluster_sampled(
    embeddings: &[Vec<f32>],
    count: &SpeakerCount,
    max_clustered: usize,
) -> Vec<usize> {
    if embeddings.len() <= max_clustered {
        return renumber(&cluster_all(embeddings, count));
    }
    let step = embeddings.len() as f64 / max_clustered as f64;
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "indices below the embedding count"
    )]
    let sampled: Vec<Vec<f32>> = (0..max_clustered)
        .map(|i| embeddings[((i as f64 * step) as usize).min(embeddings.len() - 1)].clone())
        .collect();
    let labels = cluster_all(&sampled, count);
    let centroids = centroids(&sampled, &labels);
    let labels = embeddings
        .iter()
        .map(|embedding| nearest(&centroids, embedding))
        .collect::<Vec<_>>();
    renumber(&labels)
}

/// One speaker when average linkage joins every window within the distance threshold;
/// otherwise spectral clustering decides how many and who, and clusters too small to be a
/// speaker are absorbed (unless that would leave fewer than asked for).
fn cluster_all(embeddings: &[Vec<f32>], count: &SpeakerCount) -> Vec<usize> {
    let n = embeddings.len();
    if n < 2 || count.max <= 1 {
        return vec![0; n];
    }
    let distances = DistanceMatrix::new(embeddings);
    if count.min <= 1 && joined_within(&distances, count.distance_threshold) {
        return vec![0; n];
    }
    let max = if count.max == usize::MAX {
        MAX_AUTO_SPEAKERS.max(count.min)
    } else {
        count.max
    };
    let spectral = spectral_cluster(embeddings, count.min.max(2), max);
    let absorbed = absorb_small(spectral.clone(), &distances);
    let mut labels = if distinct(&absorbed) >= count.min.min(n) {
        absorbed
    } else {
        spectral
    };
    while distinct(&labels) > count.max {
        labels = merge_closest(&labels, &distances);
    }
    labels
}

/// Whether average-linkage clustering has merged everything into one cluster by
/// `threshold`: the last merge, the mean distance between the two groups it joins, is within
/// it. A global test that spectral clustering cannot make (its eigengap always sees structure).
fn joined_within(distances: &DistanceMatrix, threshold: f32) -> bool {
    average_linkage(distances.clone())
        .last()
        .is_none_or(|&distance| distance <= threshold)
}

/// Cosine distances between unit vectors, row-major, full square.
#[derive(Clone)]
struct DistanceMatrix {
    n: usize,
    values: Vec<f32>,
}

impl DistanceMatrix {
    fn new(embeddings: &[Vec<f32>]) -> Self {
        let n = embeddings.len();
        let mut values = vec![0.0f32; n * n];
        for i in 0..n {
            for j in i + 1..n {
                let similarity: f32 = embeddings[i]
                    .iter()
                    .zip(&embeddings[j])
                    .map(|(a, b)| a * b)
                    .sum();
                let distance = 1.0 - similarity;
                values[i * n + j] = distance;
                values[j * n + i] = distance;
            }
        }
        Self { n, values }
    }

    fn get(&self, i: usize, j: usize) -> f32 {
        self.values[i * self.n + j]
    }

    fn set(&mut self, i: usize, j: usize, value: f32) {
        self.values[i * self.n + j] = value;
        self.values[j * self.n + i] = value;
    }
}

/// The distances at which average-linkage clustering merges, in increasing order (the last
/// one joins everything).
fn average_linkage(mut distances: DistanceMatrix) -> Vec<f32> {
    let n = distances.n;
    let mut size = vec![1usize; n];
    let mut active = vec![true; n];
    let mut merges = Vec::with_capacity(n.saturating_sub(1));
    let mut chain: Vec<usize> = Vec::new();
    let mut remaining = n;
    while remaining > 1 {
        if chain.is_empty()
            && let Some(first) = active.iter().position(|&a| a)
        {
            chain.push(first);
        }
        let Some(&current) = chain.last() else { break };
        let previous = chain.len().checked_sub(2).map(|i| chain[i]);
        // Nearest active neighbour; ties prefer the previous chain element so the chain ends.
        let mut best = previous;
        let mut best_distance = previous.map_or(f32::INFINITY, |p| distances.get(current, p));
        for other in (0..n).filter(|&o| active[o] && o != current) {
            let distance = distances.get(current, other);
            if distance < best_distance {
                best_distance = distance;
                best = Some(other);
            }
        }
        let Some(best) = best else { break };
        if Some(best) == previous {
            chain.pop();
            chain.pop();
            let (keep, gone) = (current.min(best), current.max(best));
            merges.push(best_distance);
            // Lance–Williams update for average linkage.
            let (size_keep, size_gone) = (size[keep] as f32, size[gone] as f32);
            for other in (0..n).filter(|&o| active[o] && o != keep && o != gone) {
                let merged = (size_keep * distances.get(keep, other)
                    + size_gone * distances.get(gone, other))
                    / (size_keep + size_gone);
                distances.set(keep, other, merged);
            }
            size[keep] += size[gone];
            active[gone] = false;
            remaining -= 1;
        } else {
            chain.push(best);
        }
    }
    merges.sort_by(f32::total_cmp);
    merges
}

fn distinct(labels: &[usize]) -> usize {
    let mut seen: Vec<usize> = labels.to_vec();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

/// Mean distance between the members of two clusters (average linkage).
fn linkage(labels: &[usize], distances: &DistanceMatrix, a: usize, b: usize) -> f32 {
    let members = |label: usize| -> Vec<usize> {
        (0..labels.len()).filter(|&i| labels[i] == label).collect()
    };
    let (left, right) = (members(a), members(b));
    let total: f32 = left
        .iter()
        .flat_map(|&i| right.iter().map(move |&j| (i, j)))
        .map(|(i, j)| distances.get(i, j))
        .sum();
    total / (left.len() * right.len()).max(1) as f32
}

/// Gives the windows of clusters smaller than [`MIN_CLUSTER_WINDOWS`] to the closest large
/// cluster; nothing changes when no cluster is large.
fn absorb_small(mut labels: Vec<usize>, distances: &DistanceMatrix) -> Vec<usize> {
    let sizes = cluster_sizes(&labels);
    let large: Vec<usize> = sizes
        .iter()
        .filter(|(_, size)| *size >= MIN_CLUSTER_WINDOWS)
        .map(|(label, _)| *label)
        .collect();
    if large.is_empty() {
        return labels;
    }
    for (small, _) in sizes.iter().filter(|(_, size)| *size < MIN_CLUSTER_WINDOWS) {
        let target = large.iter().copied().min_by(|&x, &y| {
            linkage(&labels, distances, *small, x)
                .total_cmp(&linkage(&labels, distances, *small, y))
        });
        if let Some(target) = target {
            for label in labels.iter_mut().filter(|l| **l == *small) {
                *label = target;
            }
        }
    }
    labels
}

fn cluster_sizes(labels: &[usize]) -> Vec<(usize, usize)> {
    let mut sizes: Vec<(usize, usize)> = Vec::new();
    for &label in labels {
        match sizes.iter_mut().find(|(l, _)| *l == label) {
            Some((_, size)) => *size += 1,
            None => sizes.push((label, 1)),
        }
    }
    sizes
}

fn merge_closest(labels: &[usize], distances: &DistanceMatrix) -> Vec<usize> {
    let clusters: Vec<usize> = cluster_sizes(labels).into_iter().map(|(l, _)| l).collect();
    let mut best: Option<(usize, usize, f32)> = None;
    for (index, &a) in clusters.iter().enumerate() {
        for &b in &clusters[index + 1..] {
            let distance = linkage(labels, distances, a, b);
            if best.is_none_or(|(_, _, d)| distance < d) {
                best = Some((a, b, distance));
            }
        }
    }
    let Some((keep, gone, _)) = best else {
        return labels.to_vec();
    };
    labels
        .iter()
        .map(|&l| if l == gone { keep } else { l })
        .collect()
}

fn centroids(embeddings: &[Vec<f32>], labels: &[usize]) -> Vec<Vec<f32>> {
    let count = labels.iter().max().map_or(0, |m| m + 1);
    let dim = embeddings.first().map_or(0, Vec::len);
    let mut sums = vec![vec![0.0f32; dim]; count];
    for (embedding, &label) in embeddings.iter().zip(labels) {
        for (sum, value) in sums[label].iter_mut().zip(embedding) {
            *sum += value;
        }
    }
    sums
}

fn nearest(centroids: &[Vec<f32>], embedding: &[f32]) -> usize {
    let score = |centroid: &Vec<f32>| -> f32 {
        let norm = centroid
            .iter()
            .map(|v| v * v)
            .sum::<f32>()
            .sqrt()
            .max(1e-12);
        centroid
            .iter()
            .zip(embedding)
            .map(|(a, b)| a * b)
            .sum::<f32>()
            / norm
    };
    (0..centroids.len())
        .max_by(|&a, &b| score(&centroids[a]).total_cmp(&score(&centroids[b])))
        .unwrap_or(0)
}

/// Renumbers labels 0, 1, … in order of first appearance.
fn renumber(labels: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = Vec::new();
    labels
        .iter()
        .map(|label| match order.iter().position(|l| l == label) {
            Some(index) => index,
            None => {
                order.push(*label);
                order.len() - 1
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unit vectors around `centre` (an axis), spread by a small rotation towards axis `k`.
    fn voice(centre: usize, spread: f32, count: usize) -> Vec<Vec<f32>> {
        (0..count)
            .map(|k| {
                let mut v = [0.0f32; 8];
                v[centre] = 1.0;
                v[4 + k % 4] = spread * (1.0 + (k % 3) as f32 * 0.2);
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter().map(|x| x / norm).collect()
            })
            .collect()
    }

    fn free() -> SpeakerCount {
        SpeakerCount::default()
    }

    #[test]
    fn separates_voices_by_the_threshold() {
        let mut embeddings = voice(0, 0.3, 6);
        embeddings.extend(voice(1, 0.3, 5));
        embeddings.extend(voice(0, 0.3, 3));
        let labels = cluster(&embeddings, &free());
        assert_eq!(
            labels,
            [vec![0; 6], vec![1; 5], vec![0; 3]].concat(),
            "{labels:?}"
        );
    }

    #[test]
    fn one_voice_is_one_cluster() {
        assert_eq!(cluster(&voice(2, 0.3, 10), &free()), vec![0; 10]);
        assert!(cluster(&[], &free()).is_empty());
    }

    #[test]
    fn honours_exact_and_bounded_counts() {
        let mut embeddings = voice(0, 0.3, 5);
        embeddings.extend(voice(1, 0.3, 5));
        embeddings.extend(voice(2, 0.3, 5));
        assert_eq!(distinct(&cluster(&embeddings, &free())), 3);
        let two = SpeakerCount {
            min: 2,
            max: 2,
            ..free()
        };
        assert_eq!(distinct(&cluster(&embeddings, &two)), 2);
        // One voice forced into two: the deeper cut splits it.
        let split = cluster(&voice(0, 0.5, 12), &two);
        assert_eq!(distinct(&split), 2, "{split:?}");
        let at_least_four = SpeakerCount {
            min: 4,
            max: 6,
            ..free()
        };
        assert!(distinct(&cluster(&embeddings, &at_least_four)) >= 4);
    }

    #[test]
    fn a_stray_window_joins_a_real_speaker() {
        let mut embeddings = voice(0, 0.3, 6);
        embeddings.extend(voice(3, 0.0, 1));
        embeddings.extend(voice(1, 0.3, 6));
        let labels = cluster(&embeddings, &free());
        assert_eq!(distinct(&labels), 2, "{labels:?}");
    }

    #[test]
    fn average_linkage_matches_the_naive_definition() {
        let mut embeddings = voice(0, 0.4, 4);
        embeddings.extend(voice(1, 0.6, 4));
        let matrix = DistanceMatrix::new(&embeddings);
        let merges = average_linkage(matrix.clone());
        assert_eq!(merges.len(), 7);
        assert!(merges.windows(2).all(|w| w[0] <= w[1]));
        // The last merge joins the two voices at their mean pairwise distance.
        let labels: Vec<usize> = (0..8).map(|i| i / 4).collect();
        let expected = linkage(&labels, &matrix, 0, 1);
        let last = merges.last().copied().unwrap_or_default();
        assert!((last - expected).abs() < 1e-5, "{last} vs {expected}");
    }

    #[test]
    fn long_recordings_are_sampled() {
        let mut embeddings = voice(0, 0.3, 200);
        embeddings.extend(voice(1, 0.3, 100));
        let labels = cluster_sampled(&embeddings, &free(), 120);
        assert_eq!(labels.len(), embeddings.len());
        assert!(labels[..200].iter().all(|&l| l == 0), "{labels:?}");
        assert!(labels[200..].iter().all(|&l| l == 1), "{labels:?}");
    }

    /// Three voices that no single distance cut separates: voice 0 is broad (its windows are
    /// about as far from each other as voices 1 and 2 are), voices 1 and 2 are tight and
    /// close. A cut that keeps 1 and 2 apart splits 0; each window's nearest neighbours still
    /// say who is who.
    #[test]
    fn neighbourhoods_separate_voices_that_a_threshold_cannot() {
        let layout: Vec<([f32; 3], f32)> = [
            vec![([1.0, 0.0, 0.0], 0.7); 10],
            vec![([0.0, 1.0, 0.0], 0.2); 10],
            vec![([0.0, 0.75, 0.661], 0.2); 10],
            vec![([1.0, 0.0, 0.0], 0.7); 10],
        ]
        .concat();
        // Every window has its own noise direction.
        let embeddings: Vec<Vec<f32>> = layout
            .iter()
            .enumerate()
            .map(|(k, (centre, noise))| {
                let mut v = vec![0.0f32; 3 + layout.len()];
                v[..3].copy_from_slice(centre);
                v[3 + k] = *noise;
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter().map(|x| x / norm).collect()
            })
            .collect();
        let truth: Vec<usize> = [vec![0; 10], vec![1; 10], vec![2; 10], vec![0; 10]].concat();
        let matrix = DistanceMatrix::new(&embeddings);
        let (within_0, between_1_2) = (matrix.get(0, 1), linkage(&truth, &matrix, 1, 2));
        assert!(
            within_0 > between_1_2,
            "voice 0's windows {within_0} apart, voices 1 and 2 {between_1_2}"
        );
        assert_eq!(cluster(&embeddings, &free()), truth);
    }
}
