"""World mode's pure rules: the decision parser, the prompt, the agent state machine."""
