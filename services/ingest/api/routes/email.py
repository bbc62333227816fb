"""Placeholder: filled in by the email channel work."""

from fastapi import APIRouter

router = APIRouter()
