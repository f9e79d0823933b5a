//! Scope parsing (core `scope.rs`): any string parses or is refused; what
//! parses prints in canonical form and parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::Scope;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(scope) = Scope::parse(text) {
        let printed = scope.to_string();
        assert_eq!(Scope::parse(&printed).as_ref(), Ok(&scope));
        assert!(!printed.contains("  ") && !printed.starts_with(' '));
        for token in text.split(' ').filter(|t| !t.is_empty()) {
            assert!(scope.contains(token));
        }
        let tokens: Vec<&str> = scope.iter().collect();
        assert_eq!(Scope::from_tokens(tokens).as_ref(), Ok(&scope));
    }
});
