//! Where each value of an agent's spec comes from, written as data.
//!
//! For every field a table lists the layers to ask, in order; the first
//! that has a value wins. [`pick`] returns the value with its layer, so a
//! caller can say where it came from ("model from `[defaults]`").
//!
//! A table lists only the layers that may lack a value. A field that always
//! gets one (a runtime, a workdir, a restart policy) names its last resort
//! where it is resolved, next to the table it follows.

/// A place a value of an agent's spec can come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// A flag of `fleet start` (`--runtime`, `--model`, `-- CMD`, …).
    Flag,
    /// The agent's own declaration: its `[agents.NAME]` keys. When
    /// `Fleet::resolve` is called by `fleet start`, the flags are already
    /// over them.
    Agent,
    /// The `[runtimes.X]` table of the agent's runtime.
    RuntimeTable,
    /// `[defaults]`.
    Defaults,
    /// What the agent's session last ran (its `@fleet` record).
    LastRun,
    /// The seed's `MOSAIC_AGENT_*` variables.
    Seed,
    /// The directory `fleet start` runs in.
    Cwd,
    /// The fleet file's directory.
    FleetDir,
    /// Fleet itself: a built-in runtime's fallback model or effort, runtime
    /// `pi`, restart `never`, runtime `custom` for a literal command.
    BuiltIn,
}

/// A value and the layer it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub layer: Layer,
}

impl<T> Sourced<T> {
    pub fn new(value: T, layer: Layer) -> Self {
        Self { value, layer }
    }
}

/// The first layer of `order` for which `value_in` has a value, with that
/// layer. Layers after it are not asked.
pub fn pick<T>(
    order: &[Layer],
    mut value_in: impl FnMut(Layer) -> Option<T>,
) -> Option<Sourced<T>> {
    order
        .iter()
        .find_map(|&layer| value_in(layer).map(|value| Sourced::new(value, layer)))
}

/// The orders `Fleet::resolve` follows, from a declaration to a spec.
pub mod file {
    use super::Layer::{self, *};

    /// Then the built-in `pi`.
    pub const RUNTIME: &[Layer] = &[Agent, Defaults];
    /// A runtime table's model is more specific than `[defaults]`; the
    /// built-in fallback is a last resort.
    pub const MODEL: &[Layer] = &[Agent, RuntimeTable, Defaults, BuiltIn];
    /// As the model.
    pub const EFFORT: &[Layer] = &[Agent, RuntimeTable, Defaults, BuiltIn];
    /// Then the fleet file's directory.
    pub const WORKDIR: &[Layer] = &[Agent, Defaults];
    /// Then `never`.
    pub const RESTART: &[Layer] = &[Agent, Defaults];
}

/// The orders `fleet start NAME` follows to build the declaration it
/// resolves, unless it relaunches an undeclared agent's last run whole.
pub mod start {
    use super::Layer::{self, *};

    /// The seed speaks only for an undeclared agent; so does `custom`, the
    /// label of a literal command (from `--` or the seed).
    pub const RUNTIME: &[Layer] = &[Flag, Agent, Seed, BuiltIn];
    /// A `--runtime` without `-- CMD` asks for that runtime's own command,
    /// so then the declared or seeded one has no say.
    pub const COMMAND: &[Layer] = &[Flag, Agent, Seed];
    pub const MODEL: &[Layer] = &[Flag, Agent];
    pub const EFFORT: &[Layer] = &[Flag, Agent];
    /// The seed and the current directory speak only for an undeclared
    /// agent; a declared one without a workdir gets the fleet's.
    pub const WORKDIR: &[Layer] = &[Flag, Agent, Seed, Cwd];
    /// When relaunching a last run: then the last run's.
    pub const LAST_RUN_WORKDIR: &[Layer] = &[Flag];
}

/// A row of a precedence test: the layers that have a value, and the value
/// and layer expected to win.
#[cfg(test)]
pub type Row<'a, T> = (&'a [Layer], Option<(T, Layer)>);

/// Checks one field's precedence, row by row.
#[cfg(test)]
#[track_caller]
pub fn assert_rows<T: PartialEq + std::fmt::Debug + Clone>(
    field: &str,
    rows: &[Row<T>],
    resolve: impl Fn(&[Layer]) -> Option<Sourced<T>>,
) {
    for (has, expected) in rows {
        let expected = expected
            .clone()
            .map(|(value, layer)| Sourced::new(value, layer));
        assert_eq!(resolve(has), expected, "{field} with values in {has:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::Layer::*;
    use super::*;

    #[test]
    fn the_first_layer_with_a_value_wins_and_later_ones_are_not_asked() {
        let mut asked = Vec::new();
        let got = pick(&[Flag, Agent, Defaults], |layer| {
            asked.push(layer);
            (layer != Flag).then(|| format!("{layer:?}"))
        });
        assert_eq!(got, Some(Sourced::new("Agent".to_string(), Agent)));
        assert_eq!(asked, [Flag, Agent]);
        assert_eq!(pick(&[Flag, Agent], |_| None::<u8>), None);
        assert_eq!(pick(&[], |_| Some(1)), None);
    }
}
