//! Stable wire names for the domain's enums.

/// Gives a fieldless enum its wire names: `ALL`, `as_str`, `Display` and a `FromStr` whose error
/// type `$error` names the kind of value (`$what`) that was not recognised.
macro_rules! wire_names {
    ($ty:ident, $error:ident, $what:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        #[doc = concat!("A string that is not a ", $what, ".")]
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error("unknown {} {:?} (expected one of {})", $what, .0, [$($name),+].join(", "))]
        pub struct $error(pub String);

        impl std::str::FromStr for $ty {
            type Err = $error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::ALL.iter().copied().find(|value| value.as_str() == s).ok_or_else(|| $error(s.to_owned()))
            }
        }
    };
}

pub(crate) use wire_names;
