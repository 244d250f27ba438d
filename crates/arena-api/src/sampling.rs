//! Choosing the two models of a new battle.
//!
//! Only enabled, unretired, healthy models with a positive weight take part;
//! a model is never paired with itself. `weighted` draws an unordered pair
//! with probability proportional to the product of the admin weights;
//! `active` (the Chatbot Arena paper's rule) favours the pairs whose rating
//! gap is least certain, mixed with a uniform floor so every pair keeps a
//! chance. Sides are then assigned by a fair coin. The probability of the
//! drawn pair is stored with the battle for inverse-propensity weighting.

use std::str::FromStr;

use arena_storage::Model;
use rand::RngExt;

/// How pairs are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamplingMode {
    /// Proportional to the product of admin weights.
    Weighted,
    /// Paper eq. 9: where a vote shrinks the confidence intervals most.
    Active,
}

impl FromStr for SamplingMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "weighted" => Ok(SamplingMode::Weighted),
            "active" => Ok(SamplingMode::Active),
            other => Err(format!(
                "unknown sampling mode {other:?}: expected weighted or active"
            )),
        }
    }
}

/// A drawn pair, sides assigned, with the probability of the unordered pair.
pub struct Draw {
    /// The model on side A.
    pub a: Model,
    /// The model on side B.
    pub b: Model,
    /// Probability with which this unordered pair was drawn.
    pub probability: f64,
}

/// Every unordered pair of candidates, with the product of their weights.
pub fn weighted_pairs(candidates: &[Model]) -> Vec<(usize, usize, f64)> {
    let mut pairs = Vec::new();
    for i in 0..candidates.len() {
        for j in i + 1..candidates.len() {
            pairs.push((i, j, candidates[i].weight * candidates[j].weight));
        }
    }
    pairs
}

/// Draws one pair given per-pair probabilities (any non-negative scale).
pub fn draw(candidates: &[Model], pairs: &[(usize, usize, f64)]) -> Option<Draw> {
    let total: f64 = pairs.iter().map(|p| p.2).sum();
    if total.is_nan() || total <= 0.0 {
        return None;
    }
    let mut rng = rand::rng();
    let mut target = rng.random::<f64>() * total;
    let chosen = pairs
        .iter()
        .find(|p| {
            target -= p.2;
            target < 0.0
        })
        .or_else(|| pairs.iter().rev().find(|p| p.2 > 0.0))?;
    let (mut a, mut b) = (chosen.0, chosen.1);
    if rng.random::<bool>() {
        std::mem::swap(&mut a, &mut b);
    }
    Some(Draw {
        a: candidates[a].clone(),
        b: candidates[b].clone(),
        probability: chosen.2 / total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arena_storage::ModelSource;

    fn model(name: &str, weight: f64) -> Model {
        Model {
            id: uuid::Uuid::new_v4(),
            name: name.into(),
            base_url: "demo://local".into(),
            upstream_model: name.into(),
            api_key: None,
            api_key_env: None,
            organization: None,
            license: None,
            params: serde_json::json!({}),
            system_prompt: None,
            weight,
            enabled: true,
            source: ModelSource::Api,
            created_at_ms: 0,
            updated_at_ms: 0,
            retired_at_ms: None,
        }
    }

    #[test]
    fn never_pairs_a_model_with_itself_and_respects_zero_weight() {
        let models = vec![model("x", 1.0), model("y", 2.0), model("z", 0.0)];
        let pairs = weighted_pairs(&models);
        for _ in 0..200 {
            let d = draw(&models, &pairs).expect("a pair");
            assert_ne!(d.a.name, d.b.name);
            assert!(d.a.name != "z" && d.b.name != "z");
            assert!((d.probability - 1.0).abs() < 1e-12);
        }
        assert!(draw(&models[..1], &weighted_pairs(&models[..1])).is_none());
    }

    #[test]
    fn probabilities_follow_weight_products() {
        let models = vec![model("x", 1.0), model("y", 1.0), model("z", 2.0)];
        let pairs = weighted_pairs(&models);
        let mut xy = 0;
        for _ in 0..4000 {
            let d = draw(&models, &pairs).expect("a pair");
            if (d.a.name == "x" || d.b.name == "x") && (d.a.name == "y" || d.b.name == "y") {
                xy += 1;
                assert!((d.probability - 0.2).abs() < 1e-12);
            }
        }
        // Expected 0.2 * 4000 = 800; allow a wide band.
        assert!((600..1000).contains(&xy), "{xy}");
    }
}
