//! `scenario_parser`: `mpath_console::scenario::parse` on arbitrary text.
//!
//! Properties: no panic; an error names the file; parsing is
//! deterministic (the same text gives the same steps).

use mpath_console::scenario;

pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match scenario::parse("fuzz.json", text) {
        Ok(steps) => {
            let again = scenario::parse("fuzz.json", text).expect("parse is deterministic");
            assert_eq!(again, steps);
            for s in &steps {
                let _ = (s.app, s.method.len(), s.params.as_ref());
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.starts_with("fuzz.json: "),
                "scenario error does not name the file: {msg}"
            );
        }
    }
}
