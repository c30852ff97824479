#![no_main]
// The checks live in rnc::fuzzing so tests/fuzz_corpus.rs replays the corpus with them.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rnc::fuzzing::checkpoint(data));
