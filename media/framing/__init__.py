"""Framing: where the crop window sits over a clip. One decode finds faces and mouth motion,
tracks join them, the layout and the active speaker decide whom to follow, and a smoothed crop
path (with camera-calm metrics) comes out as a :class:`~media.framing.framing_plan.FramingPlan`."""
