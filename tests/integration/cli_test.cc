// CLI end-to-end tests: written once the CLI lands.
