//! Go build info from `.go.buildinfo`. OWNER: pclntab engineer.
