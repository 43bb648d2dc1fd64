//! Webhook chaos on purpose: the failure modes payment providers show in production (lost,
//! duplicated, late and reordered notifications), at rates an operator sets, drawn from a seeded
//! generator so a run with the same seed and the same traffic makes the same choices.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// With `reorder`, each copy of a delivery is also held back by a random time up to this window,
/// so notifications raised close together can overtake one another.
pub const REORDER_WINDOW: Duration = Duration::from_secs(2);

/// The longest chaos delay: a day, past which a delivery is better called dropped.
const MAX_DELAY_MS: u64 = 86_400_000;

/// What `PUT /sandbox/chaos` accepts and `GET /sandbox/chaos` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChaosSettings {
    /// Share of deliveries lost for good (no attempt, no retry), 0.0 to 1.0.
    pub drop_rate: f64,
    /// Share of deliveries sent twice (same event, fresh transmission), 0.0 to 1.0.
    pub duplicate_rate: f64,
    /// Extra delay before the first attempt, drawn uniformly in `[min, max]` milliseconds.
    pub delay_ms: [u64; 2],
    /// Hold each delivery back by up to [`REORDER_WINDOW`] so nearby events can swap order.
    pub reorder: bool,
}

impl Default for ChaosSettings {
    fn default() -> Self {
        Self { drop_rate: 0.0, duplicate_rate: 0.0, delay_ms: [0, 0], reorder: false }
    }
}

impl ChaosSettings {
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [("drop_rate", self.drop_rate), ("duplicate_rate", self.duplicate_rate)] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0.0 and 1.0, got {rate}"));
            }
        }
        let [min, max] = self.delay_ms;
        if min > max {
            return Err(format!("delay_ms must be [min, max] with min <= max, got [{min}, {max}]"));
        }
        if max > MAX_DELAY_MS {
            return Err(format!("delay_ms may delay a delivery by at most {MAX_DELAY_MS} ms (a day)"));
        }
        Ok(())
    }
}

/// The fate of one delivery: lost, or sent once or twice after the given delays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPlan {
    pub dropped: bool,
    /// Delay of each copy before its first attempt; the second entry, if any, is the duplicate.
    pub copies: Vec<Duration>,
}

pub struct Chaos {
    settings: Mutex<ChaosSettings>,
    rng: Mutex<ChaCha8Rng>,
}

impl Chaos {
    pub fn new(seed: u64) -> Self {
        Self { settings: Mutex::new(ChaosSettings::default()), rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)) }
    }

    pub fn settings(&self) -> ChaosSettings {
        lock(&self.settings).clone()
    }

    pub fn set(&self, settings: ChaosSettings) -> Result<(), String> {
        settings.validate()?;
        *lock(&self.settings) = settings;
        Ok(())
    }

    /// Decides what happens to the next delivery. The generator is always advanced by the same
    /// number of draws, so changing one rate does not reshuffle the other decisions.
    pub fn plan(&self) -> DeliveryPlan {
        let settings = self.settings();
        let mut rng = lock(&self.rng);
        let drop_roll: f64 = rng.random();
        let duplicate_roll: f64 = rng.random();
        let mut delay = || {
            let [min, max] = settings.delay_ms;
            let base = rng.random_range(min..=max);
            let hold = rng.random_range(0..=REORDER_WINDOW.as_millis() as u64);
            Duration::from_millis(base + if settings.reorder { hold } else { 0 })
        };
        let first = delay();
        let second = delay();
        if drop_roll < settings.drop_rate {
            return DeliveryPlan { dropped: true, copies: Vec::new() };
        }
        let mut copies = vec![first];
        if duplicate_roll < settings.duplicate_rate {
            copies.push(second);
        }
        DeliveryPlan { dropped: false, copies }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_choices() {
        let settings = ChaosSettings { drop_rate: 0.3, duplicate_rate: 0.3, delay_ms: [10, 500], reorder: true };
        let plans = |seed| {
            let chaos = Chaos::new(seed);
            chaos.set(settings.clone()).unwrap();
            (0..50).map(|_| chaos.plan()).collect::<Vec<_>>()
        };
        assert_eq!(plans(7), plans(7));
        assert_ne!(plans(7), plans(8));
    }

    #[test]
    fn full_rates_drop_or_duplicate_everything() {
        let chaos = Chaos::new(1);
        chaos.set(ChaosSettings { drop_rate: 1.0, ..Default::default() }).unwrap();
        assert!((0..20).all(|_| chaos.plan().dropped));
        chaos.set(ChaosSettings { duplicate_rate: 1.0, ..Default::default() }).unwrap();
        assert!((0..20).all(|_| chaos.plan().copies.len() == 2));
    }

    #[test]
    fn no_chaos_means_one_immediate_copy() {
        let chaos = Chaos::new(1);
        assert_eq!(chaos.plan(), DeliveryPlan { dropped: false, copies: vec![Duration::ZERO] });
    }

    #[test]
    fn out_of_range_settings_are_refused() {
        let chaos = Chaos::new(1);
        let refused = [
            ChaosSettings { drop_rate: 1.5, ..Default::default() },
            ChaosSettings { duplicate_rate: -0.1, ..Default::default() },
            ChaosSettings { drop_rate: f64::NAN, ..Default::default() },
            ChaosSettings { delay_ms: [10, 5], ..Default::default() },
            ChaosSettings { delay_ms: [0, u64::MAX], ..Default::default() },
        ];
        for settings in refused {
            assert!(chaos.set(settings.clone()).is_err(), "{settings:?}");
        }
        assert_eq!(chaos.settings(), ChaosSettings::default());
    }
}
