"""From a question to a cited answer: retrieve, build the prompt, admit, generate."""
