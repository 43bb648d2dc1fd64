//! Durability across a real process crash: `kill -9` after the inbox commit, before processing.
