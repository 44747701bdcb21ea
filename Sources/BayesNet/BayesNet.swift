import BayesNetFormats
import BayesNetSpec
import BayesNetRuntime

/// The release of bayesnet this build is (`bayesnet --version`); spec format version 1.
public let bayesnetVersion = "0.4.0"
