"""Selection: which moments become clips. Candidate windows on sentence boundaries, scored
(salience, self-containedness, structure, topic cohesion, delivery, length) over topic segments,
then picked across topics; optionally ranked by an LLM, or read back from an edited plan file."""
