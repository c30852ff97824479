//! Reading MNSIM's `SimConfig.ini` with Python `configparser` semantics (HWMODEL.md §1.1):
//! case-sensitive section names, case-insensitive keys, full-line `#`/`;` comments (also
//! indented), no inline comments, indented continuation lines, duplicate keys rejected.

use super::ConfigError;
use configparser::ini::Ini;
use std::collections::HashMap;

/// Name given to keys that appear before the first section header (Python rejects them).
const NO_SECTION: &str = "\u{1}before-first-section";

/// The parsed file: section → lower-cased key → (key as written, value).
#[derive(Debug)]
pub(crate) struct RawIni {
    pub file: String,
    sections: HashMap<String, HashMap<String, (String, String)>>,
}

impl RawIni {
    pub fn parse(text: &str, file: &str) -> Result<RawIni, ConfigError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        check_duplicates(text, file)?;
        let mut ini = Ini::new_cs();
        let mut defaults = ini.defaults();
        // A `#` after a value is part of the value in Python's configparser (MNSIM then fails to
        // parse the number); an indented line continues the previous key's value.
        defaults.enable_inline_comments = false;
        defaults.multiline = true;
        defaults.default_section = NO_SECTION.to_string();
        ini.load_defaults(defaults);
        let map = ini
            .read(text.to_string())
            .map_err(|problem| ConfigError::Syntax {
                file: file.to_string(),
                problem,
            })?;
        let mut sections = HashMap::new();
        for (section, keys) in map {
            let mut table = HashMap::new();
            for (key, value) in keys {
                if section == NO_SECTION {
                    return Err(ConfigError::Syntax {
                        file: file.to_string(),
                        problem: format!("'{key}' appears before the first [section] header"),
                    });
                }
                let Some(value) = value else {
                    return Err(ConfigError::Syntax {
                        file: file.to_string(),
                        problem: format!("[{section}] line '{key}' has no '=' (expected KEY = VALUE)"),
                    });
                };
                table.insert(key.to_lowercase(), (key, value));
            }
            if section != NO_SECTION {
                sections.insert(section, table);
            }
        }
        Ok(RawIni {
            file: file.to_string(),
            sections,
        })
    }

    fn bad(&self, section: &str, key: &str, value: &str, problem: impl Into<String>) -> ConfigError {
        ConfigError::BadValue {
            file: self.file.clone(),
            section: section.to_string(),
            key: key.to_string(),
            // A continuation line makes a multi-line value; keep messages on one line.
            value: value.replace('\n', "\\n"),
            problem: problem.into().replace('\n', "\\n"),
        }
    }

    /// The trimmed value of a required key.
    pub fn get<'a>(&'a self, section: &str, key: &str) -> Result<Value<'a>, ConfigError> {
        let table = self
            .sections
            .get(section)
            .ok_or_else(|| ConfigError::MissingSection {
                file: self.file.clone(),
                section: section.to_string(),
            })?;
        // Python's configparser lets every section inherit the keys of [DEFAULT].
        let lower = key.to_lowercase();
        let inherited = || self.sections.get("DEFAULT").and_then(|d| d.get(&lower));
        let (_, value) = table
            .get(&lower)
            .or_else(inherited)
            .ok_or_else(|| ConfigError::MissingKey {
                file: self.file.clone(),
                section: section.to_string(),
                key: key.to_string(),
            })?;
        Ok(Value {
            ini: self,
            section: section.to_string(),
            key: key.to_string(),
            text: value.trim(),
        })
    }

    /// Replaces (or adds) a key's value, as if the file said `key = value` in that section.
    pub fn set(&mut self, section: &str, key: &str, value: &str) -> Result<(), ConfigError> {
        let table = self
            .sections
            .get_mut(section)
            .ok_or_else(|| ConfigError::MissingSection {
                file: self.file.clone(),
                section: section.to_string(),
            })?;
        table.insert(key.to_lowercase(), (key.to_string(), value.trim().to_string()));
        Ok(())
    }

    /// The section holding `key` (case-insensitive), if exactly one does.
    pub fn section_of(&self, key: &str) -> Vec<String> {
        let k = key.to_lowercase();
        let mut found: Vec<String> = self
            .sections
            .iter()
            .filter(|(_, t)| t.contains_key(&k))
            .map(|(s, _)| s.clone())
            .collect();
        found.sort();
        found
    }
}

/// A key's value with enough context to report an error.
pub(crate) struct Value<'a> {
    ini: &'a RawIni,
    section: String,
    key: String,
    pub text: &'a str,
}

impl Value<'_> {
    pub fn error(&self, problem: impl Into<String>) -> ConfigError {
        self.ini.bad(&self.section, &self.key, self.text, problem)
    }

    fn hint(&self) -> &'static str {
        if self.text.contains(['#', ';']) {
            " (comments must be on their own line; MNSIM does not allow them after a value)"
        } else {
            ""
        }
    }

    pub fn int(&self) -> Result<i64, ConfigError> {
        parse_int(self.text).ok_or_else(|| self.error(format!("expected an integer{}", self.hint())))
    }

    pub fn real(&self) -> Result<f64, ConfigError> {
        match parse_real(self.text) {
            Some(v) if v.is_finite() => Ok(v),
            Some(_) => Err(self.error("expected a finite number")),
            None => Err(self.error(format!("expected a number{}", self.hint()))),
        }
    }

    pub fn int_list(&self) -> Result<Vec<i64>, ConfigError> {
        self.text
            .split(',')
            .map(|s| {
                parse_int(s).ok_or_else(|| {
                    self.error(format!(
                        "'{}' is not an integer; expected a comma list of integers{}",
                        s.trim(),
                        self.hint()
                    ))
                })
            })
            .collect()
    }

    pub fn real_list(&self) -> Result<Vec<f64>, ConfigError> {
        self.text
            .split(',')
            .map(|s| match parse_real(s) {
                Some(v) if v.is_finite() => Ok(v),
                _ => Err(self.error(format!(
                    "'{}' is not a finite number; expected a comma list of numbers{}",
                    s.trim(),
                    self.hint()
                ))),
            })
            .collect()
    }
}

/// Python `int()`: optional sign, decimal digits, surrounding whitespace; underscores between digits.
fn parse_int(s: &str) -> Option<i64> {
    let s = s.trim();
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    s.replace('_', "").parse().ok()
}

/// Python `float()` for decimal/exponent forms (non-finite values are rejected by the caller).
fn parse_real(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() || s.contains("__") || s.starts_with('_') || s.ends_with('_') {
        return None;
    }
    s.replace('_', "").parse().ok()
}

/// Python's strict configparser rejects a repeated section or a repeated key within a section;
/// the configparser crate would silently keep the last one, so check first (with line numbers).
fn check_duplicates(text: &str, file: &str) -> Result<(), ConfigError> {
    let mut seen_sections: HashMap<String, usize> = HashMap::new();
    let mut keys: HashMap<String, usize> = HashMap::new();
    let mut section = String::new();
    let mut last_indent: Option<usize> = None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest
                .rfind(']')
                .map(|e| rest[..e].trim().to_string())
                .unwrap_or_default();
            if let Some(first) = seen_sections.insert(name.clone(), line_no) {
                return Err(ConfigError::Syntax {
                    file: file.to_string(),
                    problem: format!("line {line_no}: section [{name}] repeats (first at line {first})"),
                });
            }
            section = name;
            keys.clear();
            last_indent = None;
            continue;
        }
        if last_indent.is_some_and(|l| indent > l) {
            continue; // continuation line
        }
        let key = line.split(['=', ':']).next().unwrap_or("").trim().to_lowercase();
        if let Some(first) = keys.insert(key.clone(), line_no) {
            return Err(ConfigError::Syntax {
                file: file.to_string(),
                problem: format!(
                    "line {line_no}: key '{}' repeats in [{section}] (first at line {first})",
                    line.split(['=', ':']).next().unwrap_or("").trim()
                ),
            });
        }
        last_indent = Some(indent);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_number_forms() {
        assert_eq!(parse_int(" 256 "), Some(256));
        assert_eq!(parse_int("-1"), Some(-1));
        assert_eq!(parse_int("1_000"), Some(1000));
        assert_eq!(parse_int("256.0"), None);
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_real("1e6"), Some(1e6));
        assert_eq!(parse_real(" .5 "), Some(0.5));
        assert_eq!(parse_real("0.15 # V"), None);
    }
}
