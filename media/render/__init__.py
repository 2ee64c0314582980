"""Render: one clip from its plan. The pure render plan and ffmpeg argv (H.264 High@4.0,
BT.709), clip audio normalised to EBU R128 on the encoded AAC, the ebur128 meter, and captions
(SRT, WebVTT, burn-in ASS)."""
