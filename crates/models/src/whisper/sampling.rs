//! Choosing the next token from filtered logits: greedy at temperature 0, otherwise a draw from
//! `softmax(logits / T)` with a seeded xorshift generator so the same audio and options always
//! give the same transcript (no RNG crate needed for this).

/// xorshift64* — small, fast and plenty random for picking tokens.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    /// A generator for `seed` (any value; zero is remapped since xorshift would stick at 0).
    pub fn new(seed: u64) -> Rng {
        Rng {
            state: if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            },
        }
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Index of the largest logit (the first one on ties, as `torch.argmax`).
pub(crate) fn argmax(logits: &[f32]) -> usize {
    let mut best = 0;
    for (index, &value) in logits.iter().enumerate() {
        if value > logits[best] {
            best = index;
        }
    }
    best
}

/// A draw from `softmax(logits / temperature)`; `temperature` must be positive.
pub(crate) fn sample(logits: &[f32], temperature: f32, rng: &mut Rng) -> usize {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return argmax(logits);
    }
    let scale = f64::from(temperature).recip();
    let weights: Vec<f64> = logits
        .iter()
        .map(|&l| (f64::from(l - max) * scale).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut target = rng.next_f64() * total;
    for (index, weight) in weights.iter().enumerate() {
        if target < *weight {
            return index;
        }
        target -= weight;
    }
    argmax(logits)
}

/// `log_softmax(logits)[index]`, computed stably.
pub(crate) fn log_prob(logits: &[f32], index: usize) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
    (f64::from(logits[index] - max) - sum.ln()) as f32
}

/// `softmax(logits)` in f64 (used where probabilities are reported).
pub(crate) fn softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f64> = logits.iter().map(|&l| f64::from(l - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_prefers_first_of_ties() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, f32::NEG_INFINITY]), 1);
    }

    #[test]
    fn sampling_is_deterministic_and_respects_masks() {
        let logits = [0.0, f32::NEG_INFINITY, 0.5, 0.2];
        let draws = |seed| {
            let mut rng = Rng::new(seed);
            (0..200)
                .map(|_| sample(&logits, 1.0, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert!(draws(7).iter().all(|&i| i != 1));
        assert!(draws(7).contains(&0) && draws(7).contains(&3));
    }

    #[test]
    fn low_temperature_sampling_is_nearly_greedy() {
        let mut rng = Rng::new(1);
        let logits = [0.0, 2.0, 1.0];
        assert!((0..50).all(|_| sample(&logits, 0.01, &mut rng) == 1));
    }

    #[test]
    fn log_prob_and_softmax_agree() {
        let logits = [1.0, 2.0, 3.0];
        let probs = softmax(&logits);
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((f64::from(log_prob(&logits, 2)) - probs[2].ln()).abs() < 1e-6);
    }
}
