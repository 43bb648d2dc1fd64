//! Where the hub's new ids get their randomness: the operating system.
//!
//! Several instances share one database and mint ids at the same millisecond, so each needs bits
//! nobody else can reproduce; and ids appear in buyer-facing checkout links, so they should not
//! be predictable from one another. A ChaCha generator seeded once from the OS gives both without
//! a system call per id.

use payhub_core::IdGenerator;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The generator a serving hub holds: monotonic within this process, unpredictable across them.
pub fn from_os_entropy() -> IdGenerator {
    let mut rng = StdRng::from_os_rng();
    IdGenerator::new(move || rng.random())
}
