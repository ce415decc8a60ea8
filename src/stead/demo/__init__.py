"""The demo: a seeded credit-default scenario and the story that runs stead through it."""
