"""Neural networks: FaceCNN, SpeechCNN and the fusion models."""
