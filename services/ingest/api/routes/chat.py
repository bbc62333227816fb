"""Placeholder: filled in by the chat channel work."""

from fastapi import APIRouter

router = APIRouter()
