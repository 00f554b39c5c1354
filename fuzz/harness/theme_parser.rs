//! `theme_parser`: `mpath_widgets::Theme::from_json` on arbitrary text.
//!
//! Properties: no panic; an error names the file it was given; a theme
//! that parses also parses from the already-decoded value
//! (`Theme::from_value`) to the same theme.

use mpath_widgets::Theme;

pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Theme::from_json("fuzz.json", text) {
        Ok(theme) => {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
                let again = Theme::from_value(&v)
                    .unwrap_or_else(|e| panic!("from_json took it, from_value refuses: {e}"));
                assert_eq!(again, theme, "from_json and from_value differ");
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains("fuzz.json"),
                "theme error does not name the file: {msg}"
            );
        }
    }
}
