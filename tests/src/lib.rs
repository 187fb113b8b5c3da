//! End-to-end tests that cross crate boundaries (the generator, the CLI and the backends against
//! real databases) live here as the backends land. Unit and snapshot tests of one crate stay in
//! that crate.
