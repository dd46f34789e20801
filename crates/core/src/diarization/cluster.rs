//! Agglomerative clustering of speaker embeddings: average linkage on cosine distance, built
//! with the nearest-neighbour chain (O(n²) time and memory, the same tree as the naive O(n³)
//! method because average linkage is reducible), then cut by distance or by count.
//!
//! Very long recordings are clustered on an evenly spread sample of [`MAX_CLUSTERED`] windows;
//! the rest join the cluster whose centroid is closest, so memory stays bounded (the distance
//! matrix of the sample is 16 MB).

use super::SpeakerCount;

/// Clusters with fewer windows than this are absorbed by the nearest larger one: a single odd
/// window (a cough, two voices at once) is not a speaker.
pub const MIN_CLUSTER_WINDOWS: usize = 3;
/// Most windows clustered directly (about 17 minutes of continuous speech).
pub const MAX_CLUSTERED: usize = 2000;

/// A cluster label per embedding, numbered from 0 in order of first appearance.
pub fn cluster(embeddings: &[Vec<f32>], count: &SpeakerCount) -> Vec<usize> {
    if embeddings.is_empty() {
        return Vec::new();
    }
    if embeddings.len() > MAX_CLUSTERED {
        let step = embeddings.len() as f64 / MAX_CLUSTERED as f64;
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "indices below the embedding count"
        )]
        let sample: Vec<usize> = (0..MAX_CLUSTERED)
            .map(|i| ((i as f64 * step) as usize).min(embeddings.len() - 1))
            .collect();
        let sampled: Vec<Vec<f32>> = sample.iter().map(|&i| embeddings[i].clone()).collect();
        let labels = cluster_all(&sampled, count);
        let centroids = centroids(&sampled, &labels);
        let labels = embeddings
            .iter()
            .map(|embedding| nearest(&centroids, embedding))
            .collect::<Vec<_>>();
        return renumber(&labels);
    }
    renumber(&cluster_all(embeddings, count))
}

fn cluster_all(embeddings: &[Vec<f32>], count: &SpeakerCount) -> Vec<usize> {
    let n = embeddings.len();
    let distances = DistanceMatrix::new(embeddings);
    let merges = average_linkage(distances.clone());
    let by_threshold = 1 + merges
        .iter()
        .filter(|m| m.distance > count.distance_threshold)
        .count();
    let mut labels = absorb_small(cut(n, &merges, by_threshold.min(n)), &distances);
    // Too few speakers: cut deeper until enough clusters survive absorption.
    let mut clusters = by_threshold;
    while distinct(&labels) < count.min.min(n) && clusters < n {
        clusters += 1;
        labels = absorb_small(cut(n, &merges, clusters), &distances);
    }
    // Too many: merge the two closest clusters until the bound holds.
    while distinct(&labels) > count.max.max(1) {
        labels = merge_closest(&labels, &distances);
    }
    labels
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

#[derive(Debug, Clone, Copy, PartialEq)]
struct Merge {
    a: usize,
    b: usize,
    distance: f32,
}

/// The merges of average-linkage clustering in increasing distance (`a`, `b` are the lowest
/// original index of each merged cluster).
fn average_linkage(mut distances: DistanceMatrix) -> Vec<Merge> {
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
            merges.push(Merge {
                a: keep,
                b: gone,
                distance: best_distance,
            });
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
    merges.sort_by(|x, y| x.distance.total_cmp(&y.distance));
    merges
}

/// Labels of `n` items after the first `n - clusters` merges.
fn cut(n: usize, merges: &[Merge], clusters: usize) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for merge in merges.iter().take(n.saturating_sub(clusters.max(1))) {
        let (a, b) = (root(&mut parent, merge.a), root(&mut parent, merge.b));
        parent[a.max(b)] = a.min(b);
    }
    (0..n).map(|i| root(&mut parent, i)).collect()
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
        assert!(merges.windows(2).all(|w| w[0].distance <= w[1].distance));
        // The last merge joins the two voices at their mean pairwise distance.
        let labels: Vec<usize> = (0..8).map(|i| i / 4).collect();
        let expected = linkage(&labels, &matrix, 0, 1);
        let last = merges.last().map(|m| m.distance).unwrap_or_default();
        assert!((last - expected).abs() < 1e-5, "{last} vs {expected}");
    }

    #[test]
    fn long_recordings_are_sampled() {
        let mut embeddings = voice(0, 0.3, MAX_CLUSTERED);
        embeddings.extend(voice(1, 0.3, MAX_CLUSTERED / 2));
        let labels = cluster(&embeddings, &free());
        assert_eq!(labels.len(), embeddings.len());
        assert!(labels[..MAX_CLUSTERED].iter().all(|&l| l == 0));
        assert!(labels[MAX_CLUSTERED..].iter().all(|&l| l == 1));
    }
}
