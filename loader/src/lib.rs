//! prelaunch-loader (in progress)
