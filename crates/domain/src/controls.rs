//! Spending controls: being written (see helper brief).
