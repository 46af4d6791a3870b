"""The identity photo (``Screen.CONSENT`` … ``Screen.MEASURING``): which still the page should
take now, and keeping the ones it posts with the exam (:mod:`edge_agent.workflow.photos`)."""

from __future__ import annotations

from edge_agent.workflow.photos import PhotoRefused, photo_from_upload
from edge_agent.workflow.states import PhotoStage, Screen


class CameraState:
    """Identity photos of the exam at the kiosk (a part of :class:`~edge_agent.workflow.machine.Workflow`)."""

    def _photo_wanted(self) -> str | None:
        """The photo the page should take now: at identification (the first screens of a pass)
        and while the breathalyzer measures; none when the photo is configured off."""
        session = self.current
        if session is None or not self.settings.photo.enabled:
            return None
        screen = self.view.get("screen")
        if screen in (Screen.CONSENT, Screen.EXAM_TYPE, Screen.SURVEY, Screen.MEASURING) and \
                session.wants_photo(PhotoStage.IDENTIFICATION):
            return PhotoStage.IDENTIFICATION
        blowing = screen == Screen.MEASURING and any(
            c["kind"] == "alcotester" and c["state"] == "measuring" for c in self.view.get("devices", []))
        if blowing and session.wants_photo(PhotoStage.BREATH):
            return PhotoStage.BREATH
        return None

    def add_photo(self, stage: str, jpeg_b64: str) -> dict:
        """A still from the kiosk camera for the exam at the kiosk now; PhotoRefused if it is
        not wanted (configured off, no exam, taken already) or not a JPEG within the size limit."""
        session = self.current
        if not self.settings.photo.enabled:
            raise PhotoRefused("identity photos are configured off on this kiosk")
        if session is None or stage not in (PhotoStage.IDENTIFICATION, PhotoStage.BREATH):
            raise PhotoRefused(f"no {stage} photo is wanted now")
        if not session.wants_photo(stage):
            raise PhotoRefused(f"the {stage} photo of this attempt is taken already")
        photo = photo_from_upload(str(stage), jpeg_b64, self.clock.now(), self.settings.photo.max_bytes,
                                  attempt=session.pass_no())
        entry = photo.model_dump(mode="json")
        session.add_photo(entry)
        self._touch()
        return {"stage": entry["stage"], "sha256": entry["sha256"], "attempt": entry["attempt"]}

    def camera_failed(self, reason: str) -> None:
        """The page could not use the camera: journaled once per exam (the exam goes on without)."""
        session = self.current
        key = session.exam_id if session else ""
        if key == self._camera_reported:
            return
        self._camera_reported = key
        self.record_event("device_fault", "warning", device="camera",
                          ru="Камера киоска недоступна: фото работника не сделано.",
                          en="The kiosk camera is unavailable: no photo of the worker was taken.",
                          details={"reason": reason[:200], "exam_id": session.exam_id if session else None})
