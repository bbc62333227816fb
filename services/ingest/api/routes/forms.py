"""Placeholder: filled in by the forms channel work."""

from fastapi import APIRouter

router = APIRouter()
